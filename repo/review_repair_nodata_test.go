package repo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewRebuildIndexNoDataFolder: with data/ gone (a disk not
// mounted, a sync not done, a folder moved) every cabinet is missing.
// The rebuild removed every index file and called all blobs lost, which
// also dropped the offsets a later salvage of a truncated cabinet needs,
// and advised a backup that would store everything again. It must refuse
// and change nothing; with data/ back the repository is as before.
func TestReviewRebuildIndexNoDataFolder(t *testing.T) {
	ctx := context.Background()
	for _, empty := range []bool{false, true} {
		dir, groups := newRepairRepo(t)
		before, _ := os.ReadDir(filepath.Join(dir, IndexDir))
		moved := dir + ".data"
		if err := os.Rename(filepath.Join(dir, DataDir), moved); err != nil {
			t.Fatal(err)
		}
		if empty {
			os.Mkdir(filepath.Join(dir, DataDir), 0o700)
		}
		r := openPlain(t, dir)
		res, err := r.RebuildIndex(ctx, RebuildOptions{})
		if err == nil || !strings.Contains(err.Error(), "holds no cabinet") || !strings.Contains(err.Error(), "Nothing was changed") {
			t.Errorf("empty %v: rebuild without data/: %v, %+v; want a refusal", empty, err, res)
		}
		after, _ := os.ReadDir(filepath.Join(dir, IndexDir))
		if len(after) != len(before) {
			t.Errorf("empty %v: %d index files before, %d after", empty, len(before), len(after))
		}
		os.RemoveAll(filepath.Join(dir, DataDir))
		if err := os.Rename(moved, filepath.Join(dir, DataDir)); err != nil {
			t.Fatal(err)
		}
		o := reopenIndexed(t, dir)
		for _, g := range groups {
			for _, id := range g.ids {
				if _, err := o.LoadBlob(ctx, id, nil); err != nil {
					t.Errorf("empty %v: blob %s: %v", empty, id.Short(), err)
				}
			}
		}
	}
}
