//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// reviewMetaTree makes many small files (stored in bundles) with
// different modes, some with extended attributes, in folders with
// special modes.
func reviewMetaTree(t *testing.T, src string) {
	modes := []os.FileMode{0o644, 0o600, 0o755, 0o4755, 0o2750, 0o444, 0o640, 0o700}
	for i := range 200 {
		p := filepath.Join(src, fmt.Sprintf("d%d/f%03d", i%5, i))
		coreWrite(t, p, []byte(fmt.Sprintf("file %d\n", i)), 0o644)
		if i%7 == 0 {
			if err := unix.Setxattr(p, "user.review", []byte(fmt.Sprint(i)), 0); err != nil {
				t.Skipf("no user xattrs here: %v", err)
			}
		}
		if err := os.Chmod(p, modes[i%len(modes)]); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(src, "d1"), 0o1777)
	os.Chmod(filepath.Join(src, "d2"), 0o2755)
}

// --overwrite if-changed skips the content of a file whose size and time
// are the session's, but the file must come back as the session has it:
// its mode, owner and extended attributes too (chmod, chown and
// removexattr leave the modification time alone).
func TestRestoreReviewIfChangedRestoresMetadata(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	reviewMetaTree(t, src)
	e.mustRun("backup", src)
	target := t.TempDir()
	coreRestoreJSON(t, e, "--target", target, "latest")
	root := coreRestored(target, src)
	coreCompareTrees(t, src, root)
	for i := 0; i < 200; i += 3 {
		p := filepath.Join(root, fmt.Sprintf("d%d/f%03d", i%5, i))
		if err := os.Chmod(p, 0o666); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := unix.Removexattr(p, "user.review"); err != nil {
				t.Fatal(err)
			}
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(p, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := coreRestoreJSON(t, e, "--target", target, "latest")
	if st.Skipped != 200 {
		t.Errorf("if-changed over unchanged content: skipped %d, want 200", st.Skipped)
	}
	coreCompareTrees(t, src, root)
}
