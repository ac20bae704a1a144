package repo

import (
	"context"
	"crypto/rand"
	"errors"
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
