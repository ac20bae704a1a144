//go:build linux

package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPersonaApplyUndoHintNamesHome: after an apply to another home (as
// root does for a user), the hint says how to undo that apply: with its
// --home, or 'apply --undo' would look in the caller's own home.
func TestPersonaApplyUndoHintNamesHome(t *testing.T) {
	e := newEnv(t)
	ann := filepath.Join(e.dir, "home", "ann")
	bob := filepath.Join(e.dir, "home", "bob")
	personaHome(t, ann)
	coreWrite(t, filepath.Join(bob, ".bashrc"), []byte("# bob's own\n"), 0o644)
	if r := e.run("persona", "capture", "--home", ann); r.code != 0 && r.code != 3 {
		t.Fatalf("capture: %s", r)
	}
	r := e.mustRun("persona", "apply", "--home", bob, "--user", "bob", "latest")
	want := "undo with 'cabinet persona apply --undo --home " + bob + "'"
	if !strings.Contains(r.stdout, want) {
		t.Fatalf("apply output lacks %q:\n%s", want, r.stdout)
	}
	e.mustRun("persona", "apply", "--undo", "--home", bob)
}
