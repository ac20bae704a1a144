//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A restore over a previous one, as a user, into read-only folders (a Go
// module cache: folders 0555, files 0444): files, a folder and a symlink
// missing from them are restored, and the folders keep their modes.
func TestRestoreReviewMissingInReadOnlyFolderAsUser(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	mod := filepath.Join(src, "mod", "pkg@v1.2.3")
	for i := range 40 {
		coreWrite(t, filepath.Join(mod, fmt.Sprintf("f%02d.go", i)), []byte(fmt.Sprintf("package p // %d\n", i)), 0o444)
	}
	coreWrite(t, filepath.Join(mod, "big.bin"), coreRandom(1, 600<<10), 0o444)
	coreWrite(t, filepath.Join(mod, "sub", "x.go"), []byte("package sub\n"), 0o444)
	if err := os.Symlink("f00.go", filepath.Join(mod, "link.go")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(mod, "sub"), mod, filepath.Dir(mod)} {
		os.Chmod(d, 0o555)
	}
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", src).Run() })
	e.mustRun("backup", src)
	target := t.TempDir()
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", target).Run() })
	if r := reviewAsUser(t, e, "restore", "--target", target, "latest"); r.code != 0 {
		t.Fatalf("restore of read-only folders as a user: %s", r)
	}
	root := coreRestored(target, src)
	coreCompareTrees(t, src, root)

	// Remove some of it (as root): a restore as the user puts it back.
	rmod := coreRestored(target, mod)
	for _, n := range []string{"f03.go", "big.bin", "link.go"} {
		if err := os.Remove(filepath.Join(rmod, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(rmod, "sub")); err != nil {
		t.Fatal(err)
	}
	if r := reviewAsUser(t, e, "restore", "--target", target, "latest"); r.code != 0 {
		t.Fatalf("restore into read-only folders as a user: %s", r)
	}
	coreCompareTrees(t, src, root)

	// An include that selects one file below them leaves the folders'
	// modes as they were.
	if err := os.Remove(filepath.Join(rmod, "f05.go")); err != nil {
		t.Fatal(err)
	}
	if r := reviewAsUser(t, e, "restore", "--include", filepath.Join(mod, "f05.go"), "--target", target, "latest"); r.code != 0 {
		t.Fatalf("restore --include into read-only folders as a user: %s", r)
	}
	for _, d := range []string{"", "sub"} {
		if w, g := coreStat(t, filepath.Join(mod, d)).Mode, coreStat(t, filepath.Join(rmod, d)).Mode; w != g {
			t.Errorf("restore --include: mode of %s is %v, want %v", filepath.Join(rmod, d), g, w)
		}
	}
	coreDiff(t, src, root)
}
