//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewKeysPasswdDefaultPasswordFile: key passwd on the default
// repository opened with its generated password file keeps that file in
// step with the key it leaves. The file kept the old password while its
// key was removed, so every later command failed with a wrong password
// (exit 12) and key add could not fix it.
func TestReviewKeysPasswdDefaultPasswordFile(t *testing.T) {
	e := newEnv(t)
	data := filepath.Join(e.dir, "xdg-data")
	pf := filepath.Join(data, "cabinet", "default-repository.password")
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY=", "CABINET_PASSWORD_FILE="}
	e.mustRun("init")
	old, err := os.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	newPw := filepath.Join(e.dir, "new-password")
	if err := os.WriteFile(newPw, []byte("a new password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.mustRun("key", "passwd", "--new-password-file", newPw)
	coreOneLine(t, r.stdout, "password changed")
	coreOneLine(t, r.stdout, pf)
	e.mustRun("sessions")
	e.mustRun("key", "list")
	kept, err := os.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(kept)) != "a new password" || string(kept) == string(old) {
		t.Fatalf("%s holds %q after key passwd, want the new password", pf, kept)
	}
	if fi, err := os.Stat(pf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s after key passwd: %v %v, want mode 0600", pf, fi.Mode(), err)
	}
	if leftovers, _ := filepath.Glob(pf + "*"); len(leftovers) != 1 {
		t.Errorf("files beside the password file: %q", leftovers)
	}
	// The new password works given by hand too.
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY=", "CABINET_PASSWORD_FILE=" + newPw}
	e.mustRun("sessions")

	// A password given another way leaves the kept file alone: it is the
	// password of the key passwd does not touch.
	other := filepath.Join(e.dir, "other-password")
	if err := os.WriteFile(other, []byte("another password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY=", "CABINET_PASSWORD_FILE="}
	e.mustRun("key", "add", "--new-password-file", other)
	third := filepath.Join(e.dir, "third-password")
	if err := os.WriteFile(third, []byte("third password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY=", "CABINET_PASSWORD_FILE=" + other}
	e.mustRun("key", "passwd", "--new-password-file", third)
	if again, _ := os.ReadFile(pf); string(again) != string(kept) {
		t.Fatalf("key passwd with --password-file changed %s", pf)
	}
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY=", "CABINET_PASSWORD_FILE="}
	e.mustRun("sessions")
}

// TestReviewKeysPasswdDefaultPasswordLink: a default password file that
// is a link to where the user keeps passwords stays a link, and the file
// it links to gets the new password.
func TestReviewKeysPasswdDefaultPasswordLink(t *testing.T) {
	e := newEnv(t)
	data := filepath.Join(e.dir, "xdg-data")
	pf := filepath.Join(data, "cabinet", "default-repository.password")
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY=", "CABINET_PASSWORD_FILE="}
	e.mustRun("init")
	secrets := filepath.Join(e.dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(secrets, "cabinet.pw")
	if err := os.Rename(pf, kept); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(kept, pf); err != nil {
		t.Fatal(err)
	}
	newPw := filepath.Join(e.dir, "new-password")
	if err := os.WriteFile(newPw, []byte("a new password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.mustRun("key", "passwd", "--new-password-file", newPw)
	coreOneLine(t, r.stdout, kept)
	if fi, err := os.Lstat(pf); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a link: %v %v", pf, fi.Mode(), err)
	}
	if got, _ := os.ReadFile(kept); strings.TrimSpace(string(got)) != "a new password" {
		t.Fatalf("%s holds %q, want the new password", kept, got)
	}
	e.mustRun("sessions")
}
