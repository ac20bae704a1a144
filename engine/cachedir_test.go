package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// TestBackupExcludeCaches: with ExcludeCaches, a folder whose CACHEDIR.TAG
// begins with the signature keeps only the tag; a tag without it, or the
// option off, keeps everything.
func TestBackupExcludeCaches(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{
		"cache/CACHEDIR.TAG":         cacheDirSignature + "\n# made by a browser\n",
		"cache/blob":                 "cached bytes",
		"cache/sub/more":             "more cached bytes",
		"fake/CACHEDIR.TAG":          "not the signature",
		"fake/kept":                  "kept",
		"plain/file":                 "plain",
		"plain/deeper/CACHEDIR.TAG":  cacheDirSignature,
		"plain/deeper/also-excluded": "x",
	}
	for name, content := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		exclude bool
		want    []string
	}{
		{true, []string{"cache", "cache/CACHEDIR.TAG", "fake", "fake/CACHEDIR.TAG", "fake/kept", "plain", "plain/deeper", "plain/deeper/CACHEDIR.TAG", "plain/file"}},
		{false, []string{"cache", "cache/CACHEDIR.TAG", "cache/blob", "cache/sub", "cache/sub/more", "fake", "fake/CACHEDIR.TAG", "fake/kept", "plain", "plain/deeper", "plain/deeper/CACHEDIR.TAG", "plain/deeper/also-excluded", "plain/file"}},
	} {
		r := newRepo(t)
		s, err := Backup(context.Background(), r, BackupOptions{Device: "dev", Paths: []string{src}, ExcludeCaches: tc.exclude})
		if err != nil {
			t.Fatal(err)
		}
		if got := sessionPaths(t, r, s, src); !slices.Equal(got, tc.want) {
			t.Errorf("ExcludeCaches %v:\n got  %q\n want %q", tc.exclude, got, tc.want)
		}
	}
}

// sessionPaths lists the paths below the folder src in session s, sorted.
func sessionPaths(t *testing.T, r *repo.Repository, s *snapshot.Session, src string) []string {
	t.Helper()
	ctx := context.Background()
	n, err := snapshot.FindPath(ctx, r, s.Tree, filepath.ToSlash(src))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(id blob.ID, prefix string)
	walk = func(id blob.ID, prefix string) {
		tree, err := snapshot.LoadTree(ctx, r, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tree.Nodes {
			out = append(out, prefix+c.Name)
			if c.Type == snapshot.TypeDir {
				walk(c.Subtree, prefix+c.Name+"/")
			}
		}
	}
	walk(n.Subtree, "")
	slices.Sort(out)
	return out
}
