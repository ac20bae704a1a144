package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// formatSource writes the tree that testdata/format<v>/repo holds a
// session of: a repository of format v (2: blob IDs HMAC-SHA-256 and
// cabinets named by SHA-256; 3: blob IDs keyed BLAKE3, cabinets still
// SHA-256), made by the last cabinet release of that format from
// /format<v>/src with the password newEnv uses.
func formatSource(t *testing.T, dir string, v int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	coreWrite(t, filepath.Join(dir, "hello.txt"), []byte(fmt.Sprintf("hello format %d\n", v)), 0o644)
	var lines strings.Builder
	for i := range 30000 {
		fmt.Fprintf(&lines, "line %d of a format %d repository\n", i, v)
	}
	coreWrite(t, filepath.Join(dir, "lines.txt"), []byte(lines.String()), 0o644)
	if err := os.Symlink("../hello.txt", filepath.Join(dir, "sub", "link")); err != nil {
		t.Fatal(err)
	}
}

// TestCoreOlderFormatRepositories opens repositories of the previous
// formats with the real binary: each session restores, the repository
// passes a reading check, and a new backup into it keeps its format (the
// same ID hash, so its slices still deduplicate, and the same cabinet
// names) and restores too.
func TestCoreOlderFormatRepositories(t *testing.T) {
	for _, v := range []int{2, 3} {
		t.Run(fmt.Sprint("format ", v), func(t *testing.T) {
			e := newEnv(t)
			if err := os.RemoveAll(e.repo); err != nil {
				t.Fatal(err)
			}
			if err := os.CopyFS(e.repo, os.DirFS(filepath.Join("testdata", fmt.Sprint("format", v), "repo"))); err != nil {
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
			if got := formatOf(); got != v {
				t.Fatalf("fixture has format %d, want %d", got, v)
			}
			want := filepath.Join(e.dir, "want")
			formatSource(t, want, v)

			if ss := coreSessions(t, e); len(ss) != 1 {
				t.Fatalf("fixture lists %d sessions, want 1", len(ss))
			}
			out := filepath.Join(e.dir, "out")
			e.mustRun("restore", "--target", out, "latest")
			coreDiff(t, want, coreRestored(out, fmt.Sprintf("/format%d/src", v)))
			e.mustCheck()

			// The same content again, plus one new file: only the new
			// file's slice and the trees (one a folder: the root, each
			// folder above want, want and sub) are added, so the old
			// slices' IDs are recomputed the old format's way.
			coreWrite(t, filepath.Join(want, "new.txt"), []byte("written by a newer cabinet\n"), 0o644)
			s, _ := coreBackup(t, e, 0, want)
			trees := len(strings.Split(strings.Trim(want, "/"), "/")) + 2
			if s.Summary.BlobsAdded > int64(trees+1) {
				t.Fatalf("backup of the same content added %d blobs, want at most %d (%d trees and new.txt): the old slices did not deduplicate", s.Summary.BlobsAdded, trees+1, trees)
			}
			if got := formatOf(); got != v {
				t.Fatalf("after a backup the repository has format %d, want %d", got, v)
			}
			// check --read-data verifies every cabinet's name, the new
			// ones' too.
			e.mustCheck()
			out2 := filepath.Join(e.dir, "out2")
			e.mustRun("restore", "--target", out2, s.ID)
			coreDiff(t, want, coreRestored(out2, want))
		})
	}
}
