//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// reviewAsUser runs the binary as root without the capabilities that let
// root ignore modes: as a user restoring files they own.
func reviewAsUser(t *testing.T, e *env, args ...string) result {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("drops root's file access capabilities; needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not found")
	}
	cmd := e.command(args...)
	cmd.Args = append([]string{setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", cabinetBin}, cmd.Args[1:]...)
	cmd.Path = setpriv
	return coreRunCmd(t, cmd)
}

// Read-only files and folders with extended attributes restore as a user
// (the attributes need write access, so they go before the mode), and a
// read-only file the user owns that differs from the session is rewritten,
// as restic does, not refused.
func TestRestoreReviewReadOnlyAsUser(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for i := range 50 {
		p := filepath.Join(src, fmt.Sprintf("ro/f%02d", i))
		coreWrite(t, p, []byte(fmt.Sprintf("read-only %d\n", i)), 0o644)
		if i%5 == 0 {
			if err := unix.Setxattr(p, "user.review", []byte("x"), 0); err != nil {
				t.Skipf("no user xattrs here: %v", err)
			}
		}
		os.Chmod(p, 0o444)
	}
	if err := unix.Setxattr(filepath.Join(src, "ro"), "user.review", []byte("dir"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	os.Chmod(filepath.Join(src, "ro"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "ro"), 0o755) })
	e.mustRun("backup", src)
	target := t.TempDir()
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", target).Run() })
	if r := reviewAsUser(t, e, "restore", "--target", target, "latest"); r.code != 0 {
		t.Fatalf("restore of read-only files as a user: %s", r)
	}
	root := coreRestored(target, src)
	coreCompareTrees(t, src, root)

	// Change two of them (as root, keeping the mode): a restore as the
	// user rewrites them.
	for _, n := range []string{"ro/f00", "ro/f01"} {
		p := filepath.Join(root, n)
		if err := os.WriteFile(p, []byte("changed by hand, longer than before\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if r := reviewAsUser(t, e, "restore", "--target", target, "latest"); r.code != 0 {
		t.Fatalf("restore over changed read-only files as a user: %s", r)
	}
	coreCompareTrees(t, src, root)
}
