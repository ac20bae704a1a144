package fs

import (
	"context"
	"fmt"
	"io"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/blob"
)

// loadSlice reads and verifies one content slice into a new buffer of
// its exact size. From a backend with random access (local folders) the
// sealed bytes go through a pooled buffer (f.sealed): they are garbage as
// soon as the slice is decoded, and 1 MiB of fresh zeroed memory per slice
// costs a tenth of a sequential read's CPU and keeps RSS up. Otherwise
// repo.LoadBlob does the work. Errors wrap repo.ErrDamaged or repo.ErrBlobNotFound like
// LoadBlob's.
func (f *FS) loadSlice(ctx context.Context, id blob.ID, size uint32) ([]byte, error) {
	r := f.r
	ra, ok := r.Backend().(backend.ReaderAtBackend)
	if !ok {
		return r.LoadBlob(ctx, id, make([]byte, 0, size))
	}
	loc, ok := r.Index().Lookup(id)
	if !ok {
		return nil, fmt.Errorf("%w: %s", repo.ErrBlobNotFound, id)
	}
	ra2, err := ra.OpenReaderAt(ctx, repo.PackName(loc.Pack))
	if err != nil {
		return nil, fmt.Errorf("read cabinet %s: %w", loc.Pack.Short(), err)
	}
	bp, _ := f.sealed.Get().(*[]byte)
	if bp == nil || cap(*bp) < int(loc.Length) {
		b := make([]byte, 0, max(int(loc.Length), 2<<20))
		bp = &b
	}
	defer f.sealed.Put(bp)
	buf := (*bp)[:loc.Length]
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
	return r.DecodeBlob(id, loc, buf, make([]byte, 0, size))
}
