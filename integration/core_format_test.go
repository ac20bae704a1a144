package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// format2Source writes the tree that testdata/format2/repo holds a session
// of: a format 2 repository (blob IDs HMAC-SHA-256), made by the cabinet
// release before format 3 from /format2/src with the password newEnv uses.
func format2Source(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	coreWrite(t, filepath.Join(dir, "hello.txt"), []byte("hello format 2\n"), 0o644)
	var lines strings.Builder
	for i := range 30000 {
		fmt.Fprintf(&lines, "line %d of a format 2 repository\n", i)
	}
	coreWrite(t, filepath.Join(dir, "lines.txt"), []byte(lines.String()), 0o644)
	if err := os.Symlink("../hello.txt", filepath.Join(dir, "sub", "link")); err != nil {
		t.Fatal(err)
	}
}

// TestCoreFormat2Repository opens a repository of the previous format with
// the real binary: its session restores, it passes a reading check, and a
// new backup into it keeps its format (the same ID hash, so its slices
// still deduplicate) and restores too.
func TestCoreFormat2Repository(t *testing.T) {
	e := newEnv(t)
	if err := os.RemoveAll(e.repo); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(e.repo, os.DirFS(filepath.Join("testdata", "format2", "repo"))); err != nil {
		t.Fatal(err)
	}
	formatOf := func() int {
		data, err := os.ReadFile(filepath.Join(e.repo, "config"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			FormatVersion int `json:"format_version"`
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			t.Fatal(err)
		}
		return cfg.FormatVersion
	}
	if v := formatOf(); v != 2 {
		t.Fatalf("fixture has format %d, want 2", v)
	}
	want := filepath.Join(e.dir, "want")
	format2Source(t, want)

	if ss := coreSessions(t, e); len(ss) != 1 {
		t.Fatalf("fixture lists %d sessions, want 1", len(ss))
	}
	out := filepath.Join(e.dir, "out")
	e.mustRun("restore", "--target", out, "latest")
	coreDiff(t, want, coreRestored(out, "/format2/src"))
	e.mustCheck()

	// The same content again, plus one new file: only the new file's slice
	// and the trees (one a folder: the root, each folder above want, want
	// and sub) are added, so the old slices' IDs are recomputed the format
	// 2 way.
	coreWrite(t, filepath.Join(want, "new.txt"), []byte("written by format 3 cabinet\n"), 0o644)
	s, _ := coreBackup(t, e, 0, want)
	trees := len(strings.Split(strings.Trim(want, "/"), "/")) + 2
	if s.Summary.BlobsAdded > int64(trees+1) {
		t.Fatalf("backup of the same content added %d blobs, want at most %d (%d trees and new.txt): the old slices did not deduplicate", s.Summary.BlobsAdded, trees+1, trees)
	}
	if v := formatOf(); v != 2 {
		t.Fatalf("after a backup the repository has format %d, want 2", v)
	}
	e.mustCheck()
	out2 := filepath.Join(e.dir, "out2")
	e.mustRun("restore", "--target", out2, s.ID)
	coreDiff(t, want, coreRestored(out2, want))
}
