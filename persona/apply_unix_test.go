//go:build !windows

package persona

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestApplyAsRootChownsToHomeOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	staging, home := capturedPersona(t)
	if err := os.Chown(home, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	o := applyTo(staging, home, nil)
	o.Root = boolPtr(true)
	o.Select = Selector{Only: []string{"bash", "ssh"}}
	if _, err := Apply(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".bashrc", ".ssh", ".ssh/id_rsa"} {
		st, err := os.Lstat(filepath.Join(home, p))
		if err != nil {
			t.Fatal(err)
		}
		s := st.Sys().(*syscall.Stat_t)
		if s.Uid != 4242 || s.Gid != 4343 {
			t.Errorf("%s owned by %d:%d, want 4242:4343", p, s.Uid, s.Gid)
		}
	}
}

func TestApplyWaitsForApp(t *testing.T) {
	staging, home := capturedPersona(t)
	mp := filepath.Join(staging, ManifestName)
	writeFile(t, mp, strings.Replace(readFile(t, mp), `"name": "Git",`, `"name": "Git", "processes": ["gitk"],`, 1), 0o600)
	o := applyTo(staging, home, nil)
	calls := 0
	o.Processes = func(context.Context) ([]string, error) {
		calls++
		if calls == 1 {
			return []string{"gitk"}, nil
		}
		return nil, nil
	}
	o.Wait = time.Minute
	rep, err := Apply(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, ".gitconfig")); err != nil {
		t.Errorf(".gitconfig not applied after the app closed: %v", err)
	}
	if len(rep.Warnings) != 0 || rep.Incomplete() {
		t.Errorf("warnings %v, incomplete %v", rep.Warnings, rep.Incomplete())
	}
}

func TestUndoTornJournal(t *testing.T) {
	staging, home := capturedPersona(t)
	before := snapshotTree(t, home)
	o := applyTo(staging, home, nil)
	o.UndoDir = filepath.Join(t.TempDir(), "undo")
	rep, err := Apply(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// A crash while a record was being written leaves half a line.
	f, err := os.OpenFile(filepath.Join(rep.UndoSet, journalName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"op":"file","path":"/nonexist`)
	f.Close()
	ur, err := Undo(context.Background(), UndoOptions{Dir: o.UndoDir})
	if err != nil || len(ur.Problems) > 0 {
		t.Fatal(err, ur.Problems)
	}
	if d := diffTrees(before, snapshotTree(t, home)); d != "" {
		t.Errorf("undo:\n%s", d)
	}
}
