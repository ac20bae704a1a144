package integration

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreLostDataNotWritten: after a cabinet of the second session is
// lost and 'repair index' has left its slices out, restore skips the files
// that used them with a warning naming each (exit 3), writes every other
// file, and leaves a file already in the target as it is even with
// --overwrite always: it used to write the lost files with zeros where
// their data was, over what was there.
func TestRestoreLostDataNotWritten(t *testing.T) {
	e := newEnv(t)
	src, cab := repairTree(t, e)
	if err := os.Remove(filepath.Join(e.repo, cab)); err != nil {
		t.Fatal(err)
	}
	e.expectCode(3, "repair", "index")

	target := filepath.Join(e.dir, "restore")
	r := e.expectCode(3, "restore", "--target", target, "latest")
	hit := coreRestored(target, filepath.Join(src, "hit.bin"))
	coreOneLine(t, r.stderr, "warning", hit, "missing from the repository", "not restored")
	if _, err := os.Lstat(hit); err == nil {
		t.Errorf("%s was written though its data is lost", hit)
	}
	coreDiff(t, filepath.Join(src, "keep.bin"), coreRestored(target, filepath.Join(src, "keep.bin")))
	coreDiff(t, filepath.Join(src, "small"), coreRestored(target, filepath.Join(src, "small")))

	// A file already there stays as it was, whatever the overwrite policy.
	mine := []byte("a file of mine that the lost one must not replace\n")
	coreWrite(t, hit, mine, 0o644)
	for _, policy := range []string{"always", "if-changed"} {
		r = e.expectCode(3, "restore", "--overwrite", policy, "--target", target, "latest")
		coreOneLine(t, r.stderr, "warning", hit, "left as it is")
		if got, err := os.ReadFile(hit); err != nil || !bytes.Equal(got, mine) {
			t.Errorf("--overwrite %s: %s now holds %d bytes (%v), want it as it was", policy, hit, len(got), err)
		}
	}
}

// TestRestoreLostTree: a session whose root tree is lost (its tree
// cabinets gone, and 'repair index' has left them out) fails to restore
// with exit 13 and a line that says what to do; it was exit 1 with only
// "blob not in the index".
func TestRestoreLostTree(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "a.txt"), []byte(strings.Repeat("a\n", 1000)), 0o644)
	coreBackup(t, e, 0, src)
	// Tree cabinets are the ones the cache keeps a copy of.
	var trees []string
	filepath.WalkDir(e.cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) == "data" {
			trees = append(trees, filepath.Join("data", d.Name()[:2], d.Name()))
		}
		return nil
	})
	if len(trees) == 0 {
		t.Fatal("no tree cabinet in the cache")
	}
	for _, c := range trees {
		if err := os.Remove(filepath.Join(e.repo, c)); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(e.cacheDir)
	e.expectCode(3, "repair", "index")
	r := e.expectCode(13, "restore", "--target", filepath.Join(e.dir, "restore"), "latest")
	coreOneLine(t, r.stderr, "not in the index", "cabinet check", "cabinet repair index")
}
