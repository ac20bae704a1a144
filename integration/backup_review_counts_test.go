//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBackupReviewEmptyFileChangedCounts: a file the register knows that is
// empty now (touched, or truncated to 0) is a changed file in the summary,
// not a new one, as any other changed file is.
func TestBackupReviewEmptyFileChangedCounts(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	empty := filepath.Join(src, "empty")
	shrunk := filepath.Join(src, "shrunk")
	coreWrite(t, empty, nil, 0o644)
	coreWrite(t, shrunk, coreRandom(1, 5000), 0o644)
	coreWrite(t, filepath.Join(src, "other"), coreRandom(2, 3000), 0o644)
	s1, _ := coreBackup(t, e, 0, src)
	if s1.Summary.FilesNew != 3 {
		t.Fatalf("first backup: want 3 new files, got %+v", s1.Summary)
	}

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(empty, later, later); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(shrunk, 0); err != nil {
		t.Fatal(err)
	}
	s2, _ := coreBackup(t, e, 0, src)
	if s2.Summary.FilesChanged != 2 || s2.Summary.FilesNew != 0 || s2.Summary.FilesUnchanged != 1 || s2.Summary.BytesRead != 0 {
		t.Fatalf("an empty file touched and a file truncated to 0: want files_changed 2, files_new 0, files_unchanged 1, bytes_read 0; got %+v", s2.Summary)
	}
}
