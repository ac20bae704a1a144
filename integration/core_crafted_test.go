//go:build linux

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// coreCraftSession stores a session whose tree is built by mk through the
// library, bypassing the backup engine's own checks.
func coreCraftSession(t *testing.T, e *env, mk func(ctx context.Context, w *repo.Writer, file func(name string, data []byte) snapshot.Node) (blob.ID, error)) {
	t.Helper()
	ctx := context.Background()
	r := e.openRepo(t)
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	var root blob.ID
	_, err := r.Write(ctx, func(ctx context.Context, w *repo.Writer) error {
		var ferr error
		file := func(name string, data []byte) snapshot.Node {
			id, _, err := w.SaveBlob(ctx, blob.Data, data)
			if err != nil {
				ferr = err
			}
			return snapshot.Node{Name: name, Type: snapshot.TypeFile, Mode: 0o644, ModTime: time.Now().UnixNano(),
				Size: uint64(len(data)), Content: []blob.ID{id}, Sizes: []uint32{uint32(len(data))}}
		}
		var err error
		root, err = mk(ctx, w, file)
		if ferr != nil {
			return ferr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	s := &snapshot.Session{Device: "testdevice", User: "root", Hostname: host, OS: "linux", Arch: "amd64",
		Source: snapshot.SourceFiles, Time: time.Now(), Paths: []string{"/crafted"}, Status: snapshot.StatusCompleted, Tree: root}
	if err := snapshot.SaveSession(ctx, r, s); err != nil {
		t.Fatal(err)
	}
}

// coreListOutside lists every path below dir except those below skip.
func coreListOutside(t *testing.T, dir string, skip ...string) string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		for _, s := range skip {
			if p == s || strings.HasPrefix(p, s+string(filepath.Separator)) {
				return nil
			}
		}
		out = append(out, p)
		return nil
	})
	return strings.Join(out, "\n")
}

// TestCoreCraftedTreeEscapes: a session whose tree names an entry "..",
// ".", "" or one containing "/" is refused by restore with a clear message,
// and nothing is written outside the target.
func TestCoreCraftedTreeEscapes(t *testing.T) {
	names := []string{"..", "../../../escaped.txt", "a/b", "/abs", ".", "nul\x00byte"}
	for _, depth := range []int{0, 1} {
		for _, bad := range names {
			for _, isDir := range []bool{false, true} {
				if isDir && bad != ".." && !strings.HasPrefix(bad, "../") {
					continue // a folder with another bad name fails the same way
				}
				name := fmt.Sprintf("depth %d %q dir=%v", depth, bad, isDir)
				t.Run(name, func(t *testing.T) {
					e := newEnv(t)
					coreCraftSession(t, e, func(ctx context.Context, w *repo.Writer, file func(string, []byte) snapshot.Node) (blob.ID, error) {
						var evil snapshot.Node
						if isDir {
							inner := &snapshot.Tree{Nodes: []snapshot.Node{file("escaped.txt", []byte("escaped through a folder\n"))}}
							id, err := snapshot.SaveTree(ctx, w, inner)
							if err != nil {
								return id, err
							}
							evil = snapshot.Node{Name: bad, Type: snapshot.TypeDir, Mode: 0o755, Subtree: id}
						} else {
							evil = file(bad, []byte("escaped\n"))
						}
						// A harmless entry next to the bad one.
						nodes := &snapshot.Tree{Nodes: []snapshot.Node{evil, file("zz-fine.txt", []byte("fine\n"))}}
						nodes.Sort()
						for range depth {
							id, err := snapshot.SaveTree(ctx, w, nodes)
							if err != nil {
								return id, err
							}
							nodes = &snapshot.Tree{Nodes: []snapshot.Node{{Name: "crafted", Type: snapshot.TypeDir, Mode: 0o755, Subtree: id}}}
						}
						return snapshot.SaveTree(ctx, w, nodes)
					})
					target := filepath.Join(e.dir, "deep", "er", "target")
					os.MkdirAll(filepath.Dir(target), 0o755)
					// The cache is where cabinet keeps its copies; everything
					// else outside the target must stay as it is.
					before := coreListOutside(t, e.dir, target, e.cacheDir)
					r := e.run("restore", "--target", target, "latest")
					if r.code != 13 {
						t.Errorf("restore of a tree with entry %q: want exit 13, got %s", bad, r)
					}
					line := coreOneLine(t, r.stderr, fmt.Sprintf("%q", bad))
					if !strings.Contains(line, "name") {
						t.Errorf("message does not say what is wrong: %q", line)
					}
					if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
						t.Errorf("want a one-line error, got:\n%s", r.stderr)
					}
					after := coreListOutside(t, e.dir, target, e.cacheDir)
					if before != after {
						t.Errorf("restore wrote outside its target:\nbefore:\n%s\nafter:\n%s", before, after)
					}
					// Not even inside the target may the refused tree's files appear.
					filepath.Walk(target, func(p string, fi os.FileInfo, err error) error {
						if err == nil && !fi.IsDir() && strings.Contains(p, "escaped") {
							t.Errorf("restore wrote %s", p)
						}
						return nil
					})
				})
			}
		}
	}
}
