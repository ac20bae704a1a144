package fs

import (
	"context"
	"fmt"
	"io"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/blob"
)

// loadSlice reads and verifies one content slice into dst (an empty
// buffer with room for it). From a backend with random access (local
// folders) the sealed bytes go through a pooled buffer (f.sealed): they
// are garbage as soon as the slice is decoded, and 1 MiB of fresh
// memory per slice costs a tenth of a sequential read's CPU in zeroing and
// collection. Otherwise repo.LoadBlob does the work. Errors wrap
// repo.ErrDamaged or repo.ErrBlobNotFound like LoadBlob's.
func (f *FS) loadSlice(ctx context.Context, id blob.ID, dst []byte) ([]byte, error) {
	r := f.r
	if err := f.needData(ctx); err != nil {
		return nil, err
	}
	loc, ok := r.Index().Lookup(id)
	if !ok {
		// An index file that a refresh read for its trees only, while
		// needData was loading the rest: load what is missing.
		if err := r.LoadIndex(ctx); err != nil {
			return nil, fmt.Errorf("load index: %w", err)
		}
		if loc, ok = r.Index().Lookup(id); !ok {
			return nil, fmt.Errorf("%w: %s", repo.ErrBlobNotFound, id)
		}
	}
	ra, ok := r.Backend().(backend.ReaderAtBackend)
	if !ok || loc.Bundled {
		// LoadBlob keeps decoded bundles for the next small file.
		return r.LoadBlob(ctx, id, dst)
	}
	ra2, err := ra.OpenReaderAt(ctx, repo.PackName(loc.Pack))
	if err != nil {
		return nil, fmt.Errorf("read cabinet %s: %w", loc.Pack.Short(), err)
	}
	buf := f.sealed.get(int(loc.Length))[:loc.Length]
	defer f.sealed.put(buf)
	n, err := ra2.ReadAt(buf, int64(loc.Offset))
	if err == io.EOF && n == len(buf) {
		err = nil
	}
	if err == io.EOF {
		return nil, fmt.Errorf("%w: cabinet %s is shorter than its index says (truncated?)", repo.ErrDamaged, loc.Pack)
	}
	if err != nil {
		return nil, fmt.Errorf("read cabinet %s: %w", loc.Pack.Short(), err)
	}
	return r.DecodeBlob(id, loc, buf, dst)
}
