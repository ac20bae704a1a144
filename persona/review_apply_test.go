//go:build linux

package persona

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// fullTree is snapshotTree plus owners and file times: what undo must
// put back byte for byte.
func fullTree(t *testing.T, root string) treeState {
	t.Helper()
	st := snapshotTree(t, root)
	for rel := range st {
		info, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		s := info.Sys().(*syscall.Stat_t)
		st[rel] += fmt.Sprintf(" owner %d:%d", s.Uid, s.Gid)
		if info.Mode().IsRegular() {
			st[rel] += " mtime " + info.ModTime().UTC().Format(time.RFC3339Nano)
		}
	}
	return st
}

func undoHomeSet(t *testing.T, home string) *UndoReport {
	t.Helper()
	rep, err := Undo(context.Background(), UndoOptions{Dir: filepath.Join(home, ".undo"), Home: home})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("undo problems: %q", rep.Problems)
	}
	return rep
}

// TestReviewRootUndoRestoresOwner: root applies to another user's home,
// then undoes: the files put back belong to that user again, not root.
func TestReviewRootUndoRestoresOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	const uid, gid = 54321, 54322
	staging, home := capturedPersona(t)
	writeFile(t, filepath.Join(home, ".bashrc"), "mine\n", 0o640)
	writeFile(t, filepath.Join(home, ".gitconfig"), "[user]\n\tname = Bob\n", 0o600)
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{home, filepath.Join(home, ".bashrc"), filepath.Join(home, ".gitconfig")} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	os.Chtimes(filepath.Join(home, ".bashrc"), old, old)
	before := fullTree(t, home)
	o := applyTo(staging, home, nil)
	o.Root = boolPtr(true)
	if _, err := Apply(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	undoHomeSet(t, home)
	if d := diffTrees(before, fullTree(t, home)); d != "" {
		t.Errorf("undo did not put the home back:\n%s", d)
	}
}

var _ fs.FileMode

// TestReviewUndoJournalModeMasked: an undo set is a file of the user's
// home; a record's mode with set-user-ID, set-group-ID or sticky bits
// (or an owner other than the home's) must not make a root undo create a
// set-user-ID file of root's, nor give a file to someone else.
func TestReviewUndoJournalModeMasked(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home", "bob")
	mkdir(t, home, 0o755)
	undo := filepath.Join(home, ".undo", "29991231T000000Z")
	writeFile(t, filepath.Join(undo, "saved", "1"), "#!/bin/sh\n", 0o600)
	writeFile(t, filepath.Join(home, "tool"), "x", 0o644)
	writeFile(t, filepath.Join(home, "other"), "x", 0o644)
	mode := uint32(fs.ModeSetuid | fs.ModeSetgid | 0o755)
	journal := `{"format":1,"created":"2999-12-31T00:00:00Z","home":"` + home + `"}` + "\n" +
		fmt.Sprintf(`{"op":"file","path":%q,"existed":true,"saved":"saved/1","mode":%d,"owner":[0,0]}`, filepath.Join(home, "tool"), mode) + "\n" +
		fmt.Sprintf(`{"op":"chmod","path":%q,"mode":%d}`, filepath.Join(home, "other"), mode) + "\n"
	writeFile(t, filepath.Join(undo, journalName), journal, 0o600)
	const uid, gid = 54321, 54322
	if os.Geteuid() == 0 {
		for _, p := range []string{home, filepath.Join(home, "tool"), filepath.Join(home, "other")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := Undo(context.Background(), UndoOptions{Dir: filepath.Join(home, ".undo"), Home: home}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tool", "other"} {
		st, err := os.Lstat(filepath.Join(home, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			t.Errorf("%s: mode %v after undo: special bits from the journal were applied", name, st.Mode())
		}
		if s := st.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && name == "tool" && s.Uid != uid {
			t.Errorf("%s belongs to %d after a root undo, want the home's owner %d", name, s.Uid, uid)
		}
	}
}

// TestReviewInterruptedApplyNamesUndoSet: an apply stopped half way
// (Ctrl-C) has changed files; its report names the undo set, and undo
// puts the home back.
func TestReviewInterruptedApplyNamesUndoSet(t *testing.T) {
	staging, home := capturedPersona(t)
	writeFile(t, filepath.Join(home, ".bashrc"), "mine\n", 0o644)
	before := fullTree(t, home)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old := beforeOpenDir
	beforeOpenDir = func(string) { cancel() }
	defer func() { beforeOpenDir = old }()
	rep, err := Apply(ctx, applyTo(staging, home, nil))
	if err == nil {
		t.Fatal("apply went on after its context was cancelled")
	}
	if rep == nil || rep.UndoSet == "" {
		t.Fatalf("interrupted apply: report names no undo set (%v)", err)
	}
	beforeOpenDir = old
	undoHomeSet(t, home)
	if d := diffTrees(before, fullTree(t, home)); d != "" {
		t.Errorf("undo did not put the home back:\n%s", d)
	}
}
