//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCLIInitDefaultPasswordFile: init on an existing default repository,
// with no password given and no terminal, is refused before any password
// is generated. It wrote a new default-repository.password before Create
// failed ("already holds"), and every later command read that file and
// exited 12 (wrong password) instead of asking for the real one.
func TestCLIInitDefaultPasswordFile(t *testing.T) {
	e := newEnv(t)
	data := filepath.Join(e.dir, "xdg-data")
	pf := filepath.Join(data, "cabinet", "default-repository.password")
	defaultRepo := filepath.Join(data, "cabinet", "repository")
	noPassword := []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY=", "CABINET_PASSWORD_FILE="}

	// The default repository, created with a password of one's own.
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY="}
	e.mustRun("init")
	if _, err := os.Stat(pf); err == nil {
		t.Fatal("init with a password file wrote a generated one")
	}
	e.extraEnv = noPassword
	r := e.expectCode(1, "init")
	coreOneLine(t, r.stderr, defaultRepo, "already holds")
	if _, err := os.Stat(pf); err == nil {
		t.Fatalf("init on an existing repository left %s", pf)
	}
	// Later commands still ask for the password, not use a wrong one.
	r = e.expectCode(2, "sessions")
	coreOneLine(t, r.stderr, "no password given")
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY="}
	e.mustRun("sessions")

	// A fresh default repository: the generated password is kept, 0600,
	// and opens it.
	if err := os.RemoveAll(filepath.Join(data, "cabinet")); err != nil {
		t.Fatal(err)
	}
	e.extraEnv = noPassword
	r = e.mustRun("init")
	coreOneLine(t, r.stdout, pf)
	fi, err := os.Stat(pf)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", pf, fi.Mode().Perm())
	}
	kept, _ := os.ReadFile(pf)
	e.mustRun("sessions")
	// init again: refused, the kept password unchanged.
	r = e.expectCode(1, "init")
	coreOneLine(t, r.stderr, "already holds")
	if again, _ := os.ReadFile(pf); string(again) != string(kept) {
		t.Fatal("init on an existing repository changed its password file")
	}
	e.mustRun("sessions")
}
