package repo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/repo/index"
)

// Ctrl-C while a cabinet fills: the cabinet the last blob filled is
// written and indexed like the others (so the next backup reuses its
// blobs), and no temporary file is left behind. Before, upload dropped it
// on the cancelled context: a 17 MB temporary file stayed in data/ and its
// blobs were in no index.
func TestWriteCancelledKeepsFullCabinet(t *testing.T) {
	r, dir := newTestRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ids []blob.ID
	_, err := r.Write(ctx, func(ctx context.Context, w *Writer) error {
		for i := 0; i < 16; i++ {
			b := make([]byte, 1<<20+i<<19)
			rand.Read(b)
			if i == 15 {
				cancel() // Ctrl-C before the blob that fills the cabinet
			}
			id, _, err := w.SaveBlob(ctx, blob.Data, b)
			ids = append(ids, id)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write: %v, want context.Canceled", err)
	}
	filepath.WalkDir(filepath.Join(dir, DataDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), local.TempPrefix) {
			t.Errorf("left over: %s", p)
		}
		return nil
	})
	o, err := Open(context.Background(), local.New(dir), []byte("pw"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if !o.Index().Has(id) {
			t.Errorf("blob %d of %d, saved before the cancel returned, is in no index", i+1, len(ids))
		}
	}
}

// An index entry shorter than any sealed blob (only a faulty writer makes
// one: index files are sealed) is damage, not a slice out of range.
func TestDecodeBlobTooShort(t *testing.T) {
	r, _ := newTestRepo(t)
	for n := range crypto.Overhead + 1 {
		_, err := r.decodeBlob(blob.ID{1}, index.Location{Type: blob.Data, Length: uint32(n)}, make([]byte, n), nil, false)
		if !errors.Is(err, ErrDamaged) {
			t.Errorf("%d bytes: %v, want damage", n, err)
		}
	}
}

// Ctrl-C while small blobs wait in an open bundle, with fn failing on the
// cancel or returning nil (the cancel came after its last save, as when it
// lands while a backup saves its last trees): the bundle's blobs end in a
// cabinet and an index. Before, a Write whose fn returned nil flushed on
// the cancelled context: the cabinets were committed (a commit does not
// look at the context) but their index file was not written, so they were
// in no index.
func TestWriteCancelledKeepsPendingBundle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fnErr bool
	}{
		{"fn fails", true},
		{"fn returns nil", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, dir := newTestRepo(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			blobs := smallBlobs(40, 3000) // one bundle, not full
			var ids []blob.ID
			_, err := r.Write(ctx, func(ctx context.Context, w *Writer) error {
				for _, b := range blobs {
					id, _, err := w.SaveBlob(ctx, blob.Data, b)
					if err != nil {
						return err
					}
					ids = append(ids, id)
				}
				cancel() // Ctrl-C
				if tc.fnErr {
					return ctx.Err()
				}
				return nil
			})
			t.Logf("Write: %v", err)
			o, err := Open(context.Background(), local.New(dir), []byte("pw"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if err := o.LoadIndex(context.Background()); err != nil {
				t.Fatal(err)
			}
			indexed := map[blob.ID]bool{}
			for _, p := range o.Index().Packs() {
				indexed[p] = true
			}
			cabs, err := o.Cabinets(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for c := range cabs {
				if !indexed[c] {
					t.Errorf("cabinet %s is in no index", c.Short())
				}
			}
			for i, id := range ids {
				if loc, ok := o.Index().Lookup(id); ok && !cabsHas(cabs, loc.Pack) {
					t.Errorf("blob %d indexed in a missing cabinet", i)
				}
			}
		})
	}
}

func cabsHas(cabs map[blob.ID]int64, id blob.ID) bool { _, ok := cabs[id]; return ok }

// A cabinet whose upload fails: the blobs in it, a full bundle's too, are
// no longer taken for stored, so a later save of one of them in the same
// Write stores it again instead of skipping it. (Write fails in any case:
// this is about what HasBlob and SaveBlob say meanwhile.) Every folder a
// cabinet could go to is taken by a file here, so no cabinet is written.
func TestWriteFailedUploadForgetsBlobs(t *testing.T) {
	r, dir := newTestRepo(t)
	if err := os.MkdirAll(filepath.Join(dir, DataDir), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		p := filepath.Join(dir, DataDir, fmt.Sprintf("%02x", i))
		os.RemoveAll(p)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var blobs [][]byte // random, so a cabinet fills with bundles
	for range (DataCabinetSize + BundleSize) / (100 << 10) {
		b := make([]byte, 100<<10)
		rand.Read(b)
		blobs = append(blobs, b)
	}
	_, err := r.Write(context.Background(), func(ctx context.Context, w *Writer) error {
		for _, b := range blobs {
			if _, _, err := w.SaveBlob(ctx, blob.Data, b); err != nil {
				return err
			}
		}
		<-ctx.Done() // the full cabinet's upload failed
		for i, b := range blobs[:3] {
			id := r.Key().ID(b)
			if w.HasBlob(id) {
				t.Errorf("blob %d of a cabinet not written: HasBlob true", i)
			}
			if _, isNew, _ := w.SaveBlob(ctx, blob.Data, b); !isNew {
				t.Errorf("blob %d of a cabinet not written: saved again as known", i)
			}
		}
		return nil
	})
	if err == nil {
		t.Fatal("Write succeeded without a cabinet written")
	}
}
