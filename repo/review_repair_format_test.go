package repo

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/blob"
)

// TestReviewRebuildIndexFormats rebuilds the index of a repository of each
// format with one cabinet truncated, with and without reading the data:
// the intact cabinets are indexed as they are (never left out for a name
// hash of the wrong format), the blobs before the cut are stored again in
// the format's way (no bundle before format 5), every kept blob loads,
// check finds only the lost blobs, and a second rebuild changes nothing.
func TestReviewRebuildIndexFormats(t *testing.T) {
	ctx := context.Background()
	for _, v := range []int{2, 3, 4, 5} {
		for _, readData := range []bool{false, true} {
			t.Run(fmt.Sprintf("format %d, read data %v", v, readData), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "repo")
				r, err := Create(ctx, local.New(dir), []byte("pw"), CreateOptions{Key: KeyOptions{KDF: cheapKDF}, formatVersion: v}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(uint64(v), 9))
				random := func(n int) []byte {
					b := make([]byte, n)
					for i := range b {
						b[i] = byte(rng.Uint32())
					}
					return b
				}
				data := map[blob.ID][]byte{}
				var cabs []blob.ID
				var order [][]blob.ID
				for range 3 {
					contents := [][]byte{random(200 << 10), random(300 << 10), random(4 << 10), random(5 << 10)}
					ids := saveBlobs(t, r, contents...)
					for i, id := range ids {
						data[id] = contents[i]
					}
					loc, _ := r.Index().Lookup(ids[0])
					cabs = append(cabs, loc.Pack)
					order = append(order, ids)
				}
				r.Close()
				// The first blob (200 KiB) of the second cabinet lies before the cut.
				if err := os.Truncate(cabinetPath(dir, cabs[1]), 250<<10); err != nil {
					t.Fatal(err)
				}
				gone := order[1][1:]

				o := openPlain(t, dir)
				res, err := o.RebuildIndex(ctx, RebuildOptions{ReadData: readData})
				if err != nil {
					t.Fatal(err)
				}
				if res.CabinetsIndexed != 2 || res.BlobsSalvaged != 1 || res.BlobsLost != len(gone) || len(res.LeftOut) != 1 {
					t.Errorf("%+v: want 2 cabinets indexed, 1 blob stored again, %d lost, 1 cabinet left out", res, len(gone))
				}
				o.Close()

				n := reopenIndexed(t, dir)
				for id, want := range data {
					got, err := n.LoadBlob(ctx, id, nil)
					lost := false
					for _, g := range gone {
						lost = lost || g == id
					}
					switch {
					case lost && n.Index().Has(id):
						t.Errorf("lost blob %s is indexed", id.Short())
					case !lost && (err != nil || !bytes.Equal(got, want)):
						t.Errorf("blob %s: %v", id.Short(), err)
					}
				}
				var problems []Problem
				if err := n.CheckStructure(ctx, func(p Problem) {
					if p.Severity == Error {
						problems = append(problems, p)
					}
				}); err != nil {
					t.Fatal(err)
				}
				if len(problems) != 0 {
					t.Errorf("check after the rebuild: %+v", problems)
				}
				again := openPlain(t, dir)
				res, err = again.RebuildIndex(ctx, RebuildOptions{ReadData: true})
				if err != nil || !res.Unchanged {
					t.Errorf("second rebuild: %v %+v, want nothing to do", err, res)
				}
			})
		}
	}
}
