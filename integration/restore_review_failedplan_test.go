//go:build linux

package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// The README: a restore over files already in the target changes none of
// them until it has read the whole session's folders; one that fails
// before (a damaged tree) leaves them as they were. That holds for the
// files in the place of a session's symlink or FIFO too.
func TestRestoreReviewFailedPlanKeepsFilesAtSymlinks(t *testing.T) {
	e := newEnv(t)
	coreCraftSession(t, e, func(ctx context.Context, w *repo.Writer, file func(string, []byte) snapshot.Node) (blob.ID, error) {
		a := &snapshot.Tree{Nodes: []snapshot.Node{
			file("f.txt", []byte("session\n")),
			{Name: "link", Type: snapshot.TypeSymlink, Mode: 0o777, Target: "f.txt"},
			{Name: "pipe", Type: snapshot.TypeFIFO, Mode: 0o644},
		}}
		a.Sort()
		id, err := snapshot.SaveTree(ctx, w, a)
		if err != nil {
			return id, err
		}
		root := &snapshot.Tree{Nodes: []snapshot.Node{
			{Name: "a", Type: snapshot.TypeDir, Mode: 0o755, Subtree: id},
			{Name: "z", Type: snapshot.TypeDir, Mode: 0o755, Subtree: blob.ID{1, 2, 3}}, // missing
		}}
		root.Sort()
		return snapshot.SaveTree(ctx, w, root)
	})
	target := t.TempDir()
	for _, n := range []string{"f.txt", "link", "pipe"} {
		coreWrite(t, filepath.Join(target, "a", n), []byte("mine\n"), 0o644)
	}
	for _, policy := range []string{"if-changed", "always"} {
		r := e.run("restore", "--overwrite", policy, "--target", target, "latest")
		if r.code == 0 {
			t.Fatalf("restore of a session with a missing tree succeeded: %s", r)
		}
		for _, n := range []string{"f.txt", "link", "pipe"} {
			p := filepath.Join(target, "a", n)
			fi, err := os.Lstat(p)
			if err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("--overwrite %s: a/%s is no longer the file it was after a restore that failed in plan (%v, %v)", policy, n, fi, err)
			}
			if data, _ := os.ReadFile(p); string(data) != "mine\n" {
				t.Fatalf("--overwrite %s: a/%s holds %q after a restore that failed in plan", policy, n, data)
			}
		}
	}
}
