// Package limit wraps a backend so that what is written to it stays under
// a rate, as restic's --limit-upload: a backup's cabinet writes wait for
// their bytes' turn, so the backup leaves the disk or the line to others.
// Reads are not limited.
package limit

import (
	"context"
	"fmt"
	"io"

	"golang.org/x/time/rate"

	"github.com/cabinetbackup/cabinet/repo/backend"
)

// inner is what the wrapped backend must offer: the repository writes data
// cabinets through temporary files and reads them at offsets.
type inner interface {
	backend.Backend
	backend.TempFileBackend
	backend.ReaderAtBackend
}

// Backend limits the writes of the backend it wraps.
type Backend struct {
	inner
	lim *rate.Limiter
}

var (
	_ backend.Backend         = (*Backend)(nil)
	_ backend.TempFileBackend = (*Backend)(nil)
	_ backend.ReaderAtBackend = (*Backend)(nil)
	_ backend.ReadAdvisor     = (*Backend)(nil)
)

// Uploads wraps be so that writes to it stay at or under bytesPerSecond.
// be must write through temporary files and read at offsets, as the local
// backend does.
func Uploads(be backend.Backend, bytesPerSecond int) (*Backend, error) {
	in, ok := be.(inner)
	if !ok {
		return nil, fmt.Errorf("limit: backend %s cannot be limited (no temporary files or reads at offsets)", be.Location())
	}
	if bytesPerSecond <= 0 {
		return nil, fmt.Errorf("limit: rate %d bytes a second, want more than 0", bytesPerSecond)
	}
	// A burst of a tenth of a second's bytes (at least 64 KiB) keeps the
	// rate smooth; larger writes wait for it in parts.
	burst := max(bytesPerSecond/10, 64<<10)
	return &Backend{inner: in, lim: rate.NewLimiter(rate.Limit(bytesPerSecond), burst)}, nil
}

// wait blocks until n more bytes may be written.
func (b *Backend) wait(ctx context.Context, n int) error {
	for n > 0 {
		k := min(n, b.lim.Burst())
		if err := b.lim.WaitN(ctx, k); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		n -= k
	}
	return nil
}

// Put implements backend.Backend.
func (b *Backend) Put(ctx context.Context, name string, data []byte) error {
	if err := b.wait(ctx, len(data)); err != nil {
		return err
	}
	return b.inner.Put(ctx, name, data)
}

// TempFile implements backend.TempFileBackend: its writes are limited.
func (b *Backend) TempFile(ctx context.Context, dir string) (backend.TempFile, error) {
	tf, err := b.inner.TempFile(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &tempFile{TempFile: tf, ctx: ctx, b: b}, nil
}

// WillRead implements backend.ReadAdvisor where the wrapped backend does.
func (b *Backend) WillRead(ctx context.Context, name string, off, length int64) {
	if ra, ok := b.inner.(backend.ReadAdvisor); ok {
		ra.WillRead(ctx, name, off, length)
	}
}

// OpenReaderAt implements backend.ReaderAtBackend.
func (b *Backend) OpenReaderAt(ctx context.Context, name string) (io.ReaderAt, error) {
	return b.inner.OpenReaderAt(ctx, name)
}

type tempFile struct {
	backend.TempFile
	ctx context.Context
	b   *Backend
}

func (t *tempFile) Write(p []byte) (int, error) {
	if err := t.b.wait(t.ctx, len(p)); err != nil {
		return 0, err
	}
	return t.TempFile.Write(p)
}

// Close closes the wrapped backend where it has something to close (the
// local backend's open read handles).
func (b *Backend) Close() error {
	if c, ok := b.inner.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// TempFiles lists the wrapped backend's left-over temporary files, where
// it can (check reports them).
func (b *Backend) TempFiles() ([]string, error) {
	if t, ok := b.inner.(interface{ TempFiles() ([]string, error) }); ok {
		return t.TempFiles()
	}
	return nil, nil
}
