//go:build linux

package persona

import (
	"context"
	"path/filepath"
	"testing"
)

// TestReviewAbsoluteLinksInsideHome: folders and files of the home that
// are absolute symbolic links to elsewhere in the home (dotfiles
// managers) are written through, and undo puts everything back.
func TestReviewAbsoluteLinksInsideHome(t *testing.T) {
	staging, home := capturedPersona(t)
	dot := filepath.Join(home, "dotfiles")
	writeFile(t, filepath.Join(dot, "bashrc"), "mine\n", 0o644)
	mkdir(t, filepath.Join(dot, "ssh"), 0o755) // chmod 700 through the link
	symlink(t, filepath.Join(dot, "bashrc"), filepath.Join(home, ".bashrc"))
	symlink(t, filepath.Join(dot, "ssh"), filepath.Join(home, ".ssh"))
	before := fullTree(t, home)
	rep, err := Apply(context.Background(), applyTo(staging, home, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rep.Entries {
		if e.Status != ApplyApplied {
			t.Errorf("%s: %s %s %v", e.ID, e.Status, e.Reason, e.Skipped)
		}
	}
	if got := readFile(t, filepath.Join(dot, "ssh", "id_rsa")); got != "KEY" {
		t.Errorf("id_rsa through the link = %q", got)
	}
	rep2, err := Apply(context.Background(), applyTo(staging, home, nil))
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Changed != 0 || rep2.UndoSet != "" {
		t.Errorf("second apply changed %d (undo set %q)", rep2.Changed, rep2.UndoSet)
	}
	undoHomeSet(t, home)
	if d := diffTrees(before, fullTree(t, home)); d != "" {
		t.Errorf("undo did not put the home back:\n%s", d)
	}
}

// TestReviewHomeIsLink: the home is itself a symbolic link.
func TestReviewHomeIsLink(t *testing.T) {
	staging, real := capturedPersona(t)
	writeFile(t, filepath.Join(real, ".bashrc"), "mine\n", 0o644)
	home := filepath.Join(filepath.Dir(real), "bob-link")
	symlink(t, real, home)
	before := fullTree(t, real)
	rep, err := Apply(context.Background(), applyTo(staging, home, nil))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed == 0 || rep.Incomplete() {
		t.Fatalf("apply: %+v", rep.Entries)
	}
	if got := readFile(t, filepath.Join(real, ".ssh", "id_rsa")); got != "KEY" {
		t.Errorf("id_rsa = %q", got)
	}
	undoHomeSet(t, home)
	if d := diffTrees(before, fullTree(t, real)); d != "" {
		t.Errorf("undo did not put the home back:\n%s", d)
	}
}

// TestReviewReadOnlyFile: a read-only file of the home is replaced (the
// folder is writable), and undo gives it back read-only.
func TestReviewReadOnlyFile(t *testing.T) {
	staging, home := capturedPersona(t)
	writeFile(t, filepath.Join(home, ".gitconfig"), "ro\n", 0o444)
	before := fullTree(t, home)
	if _, err := Apply(context.Background(), applyTo(staging, home, nil)); err != nil {
		t.Fatal(err)
	}
	undoHomeSet(t, home)
	if d := diffTrees(before, fullTree(t, home)); d != "" {
		t.Errorf("undo did not put the home back:\n%s", d)
	}
}
