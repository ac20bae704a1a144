//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A restore with --include into folders already in the target leaves
// them their own metadata, their modification time too: restoring a
// file into a folder must not leave it with the time of the restore.
func TestRestoreReviewIncludeKeepsFolderTimes(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for i := range 300 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("d%d/sub/f%03d", i%3, i)), []byte(fmt.Sprintf("small %d\n", i)), 0o644)
	}
	e.mustRun("backup", src)
	target := t.TempDir()
	coreRestoreJSON(t, e, "--target", target, "latest")
	root := coreRestored(target, src)
	coreCompareTrees(t, src, root)

	// The user's own time on a folder of the target, and a file missing
	// below it.
	own := time.Date(2020, 2, 3, 4, 5, 6, 7, time.UTC)
	d1 := filepath.Join(root, "d1")
	if err := os.Remove(filepath.Join(d1, "sub", "f001")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{d1, filepath.Join(d1, "sub")} {
		if err := os.Chtimes(d, own, own); err != nil {
			t.Fatal(err)
		}
	}
	st := coreRestoreJSON(t, e, "--include", "d1/sub/f001", "--target", target, "latest")
	if st.Files != 1 {
		t.Fatalf("restore --include d1/sub/f001: %d files restored, want 1", st.Files)
	}
	coreDiff(t, src, root)
	for _, d := range []string{d1, filepath.Join(d1, "sub")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(own) {
			t.Errorf("%s: modification time %v after restore --include, want its own %v", d, fi.ModTime(), own)
		}
	}
}
