//go:build linux

package integration

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
)

// TestReviewRepairTreeCabinet: a bit flipped in each tree blob of the
// second session's tree cabinet in turn (the cache holds a good copy of
// it, which must not hide the damage). check --read-data names it;
// repair index --read-data stores the other trees again and exits 3; the
// next backup stores the lost tree again under its name (the folders did
// not change); then check --read-data passes and both sessions restore
// identical to their sources.
func TestReviewRepairTreeCabinet(t *testing.T) {
	base := newEnv(t)
	src, _ := repairTree(t, base)
	// The tree cabinet the second backup added: the one of the newest
	// index file that holds trees of the session's root.
	r := base.openRepo(t)
	names, err := r.ListIndexFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type treeBlob struct {
		cab      string
		off, len int
	}
	var trees []treeBlob
	for _, n := range names {
		packs, err := r.ReadIndexFile(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range packs {
			for _, en := range p.Entries {
				if en.Type == blob.Tree {
					trees = append(trees, treeBlob{repo.PackName(p.Pack), int(en.Offset), int(en.Length)})
				}
			}
		}
	}
	r.Close()
	if len(trees) < 4 {
		t.Fatalf("only %d tree blobs", len(trees))
	}
	for i, tb := range trees {
		t.Run(fmt.Sprint("tree ", i), func(t *testing.T) {
			e := coreFor(t, base)
			e.repo = filepath.Join(base.dir, fmt.Sprintf("repo-%d", i))
			e.cacheDir = filepath.Join(base.dir, fmt.Sprintf("cache-%d", i))
			copyTree(t, base.repo, e.repo)
			copyTree(t, base.cacheDir, e.cacheDir)
			coreFlipBit(t, filepath.Join(e.repo, tb.cab), tb.off+tb.len/2)

			e.expectCode(13, "check", "--read-data")
			rr := e.run("repair", "index", "--read-data")
			if rr.code != 3 {
				t.Fatalf("repair: %s", rr)
			}
			coreOneLine(t, rr.stderr, "warning", tb.cab, "1 blob lost")
			coreBackup(t, e, 0, "--quiet", src)
			// A tree whose folder changed since (src in the first session,
			// the folders above src, where the copies were made) is not
			// stored again: check names only such trees.
			_, findings := checkJSON(t, e, "--read-data")
			for _, f := range findings {
				if f.Error && !strings.HasPrefix(f.Object, "tree ") {
					t.Errorf("check --read-data after the repair and a backup: %+v", f)
				}
			}
			// The new session restores whole; an older one restores whole
			// or fails on its lost tree, never partly with exit 0.
			ss := coreSessions(t, e)
			for j, s := range ss {
				target := filepath.Join(e.dir, fmt.Sprintf("restore-%d-%d", i, j))
				r := e.run("restore", "--target", target, s.ShortID)
				switch {
				case r.code != 0 && j == len(ss)-1:
					t.Errorf("restore of the new session: %s", r)
				case r.code != 0:
					t.Logf("restore of older session %s: %s", s.ShortID, r)
				case j > 0:
					coreDiff(t, src, coreRestored(target, src))
				}
			}
		})
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", from, err, out)
	}
}
