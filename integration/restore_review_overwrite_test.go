//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// A file in the place of a session's FIFO is the user's: --overwrite never
// keeps it (and counts it as skipped), as it keeps files, folders and
// symlinks.
func TestRestoreReviewNeverKeepsFileAtFIFO(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "a.txt"), []byte("a\n"), 0o644)
	if err := syscallMkfifo(filepath.Join(src, "pipe")); err != nil {
		t.Fatal(err)
	}
	e.mustRun("backup", src)
	target := t.TempDir()
	coreRestoreJSON(t, e, "--target", target, "latest")
	pipe := filepath.Join(coreRestored(target, src), "pipe")
	if err := os.Remove(pipe); err != nil {
		t.Fatal(err)
	}
	coreWrite(t, pipe, []byte("precious\n"), 0o644)
	st := coreRestoreJSON(t, e, "--overwrite", "never", "--target", target, "latest")
	fi, err := os.Lstat(pipe)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() {
		t.Fatalf("--overwrite never replaced the file at pipe with %v", fi.Mode())
	}
	if data, _ := os.ReadFile(pipe); string(data) != "precious\n" {
		t.Fatalf("--overwrite never changed the file at pipe: %q", data)
	}
	if st.Skipped != 2 {
		t.Errorf("--overwrite never: skipped %d, want 2 (a.txt and the file at pipe)", st.Skipped)
	}
}
