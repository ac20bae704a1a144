package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/blob"
)

// TestBundlesConcurrent: many SaveBlobID calls at once, each blob saved by
// two of them, while bundles fill and cabinets upload; a blob waiting in
// an open bundle is had (HasBlob); every blob is stored once and reads
// back from this repository and a new one, by many readers at once (the
// bundle memo evicting as they go). Run with -race.
func TestBundlesConcurrent(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	// Half of them random: about 20 MB of bundles, so cabinets fill and
	// upload while blobs are still saved.
	blobs := smallBlobs(6000, 3000)
	for i := 0; i < len(blobs); i += 2 {
		rand.Read(blobs[i])
	}
	ids := make([]blob.ID, len(blobs))
	for i, b := range blobs {
		ids[i] = r.Key().ID(b)
	}
	stats, err := r.Write(ctx, func(ctx context.Context, w *Writer) error {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g % 8; i < len(blobs); i += 8 { // two goroutines for each blob
					if _, _, err := w.SaveBlobID(ctx, blob.Data, ids[i], blobs[i]); err != nil {
						errs <- err
						return
					}
					if !w.HasBlob(ids[i]) {
						t.Errorf("blob %d: HasBlob false after SaveBlobID", i)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		return <-errs
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Blobs != int64(len(blobs)) || stats.Cabinets < 2 {
		t.Errorf("%d blobs stored in %d cabinets, want %d in several", stats.Blobs, stats.Cabinets, len(blobs))
	}
	o := reopenIndexed(t, dir)
	for _, repo := range []*Repository{r, o} {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf []byte
				for k := range len(blobs) / 4 {
					i := (k*4 + g) % len(blobs) // the readers go through the blobs side by side
					var err error
					buf, err = repo.LoadBlob(ctx, ids[i], buf)
					if err != nil || !bytes.Equal(buf, blobs[i]) {
						t.Errorf("blob %d: %d bytes, %v", i, len(buf), err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

// TestBundleDecodedOnceByConcurrentReads: readers that want blobs of the
// same bundle at the same moment (a mount's readers, a restore's workers)
// wait for one decode of it instead of each decoding it.
func TestBundleDecodedOnceByConcurrentReads(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	blobs := smallBlobs(20, 9000) // one bundle
	ids := saveBlobs(t, r, blobs...)
	first, _ := r.Index().Lookup(ids[0])
	for _, id := range ids {
		if loc, _ := r.Index().Lookup(id); !loc.Bundled || loc.Offset != first.Offset {
			t.Fatal("the blobs are not in one bundle")
		}
	}
	for round := 0; round < 5; round++ {
		o := reopenIndexed(t, dir)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, len(ids))
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if got, err := o.LoadBlob(ctx, id, nil); err != nil || !bytes.Equal(got, blobs[i]) {
					errs <- fmt.Errorf("blob %d: %d bytes, %v", i, len(got), err)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := o.bundles.tablesRead.Load(); n != 1 {
			t.Fatalf("round %d: the bundle was decoded %d times by %d concurrent reads", round, n, len(ids))
		}
	}
}
