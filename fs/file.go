package fs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// fileNode is a regular file inside a session.
type fileNode struct {
	dir  *treeDir
	n    *snapshot.Node // in the parent's tree, immutable
	attr Attr
}

var _ File = (*fileNode)(nil)

func (f *fileNode) Attr() Attr { return f.attr }

func (f *fileNode) path() string { return f.dir.path + "/" + f.n.Name }

// Open returns a handle. It reads nothing: content is fetched per slice on
// the first read that needs it.
func (f *fileNode) Open(context.Context) (Handle, error) {
	offs := make([]int64, len(f.n.Sizes)+1)
	for i, s := range f.n.Sizes {
		offs[i+1] = offs[i] + int64(s)
	}
	h := &fileHandle{fs: f.dir.f, node: f, offs: offs}
	h.last.Store(-1)
	h.ahead.Store(-1)
	return h, nil
}

// fileHandle reads one opened file. It holds no lock: concurrent reads
// share only the slice cache and two hints for read-ahead.
type fileHandle struct {
	fs   *FS
	node *fileNode
	offs []int64 // cumulative slice sizes: slice i covers [offs[i], offs[i+1])

	last  atomic.Int64 // slice of the latest read, for detecting sequential reads
	ahead atomic.Int64 // highest slice already scheduled for read-ahead
}

var _ Handle = (*fileHandle)(nil)

func (h *fileHandle) Close() error { return nil }

// sliceAt returns the index of the slice holding off (binary search).
func (h *fileHandle) sliceAt(off int64) int {
	return sort.Search(len(h.offs)-1, func(i int) bool { return h.offs[i+1] > off })
}

func (h *fileHandle) size() int64 { return h.offs[len(h.offs)-1] }

func (h *fileHandle) ReadAt(ctx context.Context, dest []byte, off int64) ([]byte, error) {
	size := h.size()
	if off < 0 {
		return nil, fmt.Errorf("%s: negative offset %d", h.node.path(), off)
	}
	if off >= size || len(dest) == 0 {
		return nil, nil
	}
	end := min(off+int64(len(dest)), size)
	i := h.sliceAt(off)
	h.readAhead(i)
	data, err := h.slice(ctx, i)
	if err != nil {
		return nil, err
	}
	if end <= h.offs[i+1] {
		return data[off-h.offs[i] : end-h.offs[i]], nil // one slice: no copy
	}
	n := copy(dest, data[off-h.offs[i]:])
	for n < int(end-off) {
		i++
		if data, err = h.slice(ctx, i); err != nil {
			return nil, err
		}
		n += copy(dest[n:end-off], data)
	}
	return dest[:n], nil
}

// readAhead starts fetching the next Options.Prefetch slices when reads
// look sequential (same or next slice as the last read).
func (h *fileHandle) readAhead(i int) {
	last := h.last.Swap(int64(i))
	if int64(i) != last && int64(i) != last+1 {
		return
	}
	n := len(h.offs) - 1
	to := min(i+h.fs.opts.Prefetch, n-1)
	for {
		from := h.ahead.Load()
		if from >= int64(to) {
			return
		}
		if h.ahead.CompareAndSwap(from, int64(to)) {
			for j := max(int(from)+1, i+1); j <= to; j++ {
				id := h.node.n.Content[j]
				h.fs.slices.prefetch(id, h.loader(j, id))
			}
			return
		}
	}
}

func (h *fileHandle) loader(i int, id blob.ID) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		h.fs.sliceLoads.Add(1)
		data, err := h.fs.loadSlice(ctx, id, h.node.n.Sizes[i])
		if err == nil && len(data) != int(h.node.n.Sizes[i]) {
			err = fmt.Errorf("slice %s has %d bytes, the tree says %d", id.Short(), len(data), h.node.n.Sizes[i])
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			h.fs.opts.Logf("mount: %s: slice %d at offset %d: %v", h.node.path(), i, h.offs[i], err)
		}
		return data, err
	}
}

func (h *fileHandle) slice(ctx context.Context, i int) ([]byte, error) {
	id := h.node.n.Content[i]
	data, err := h.fs.slices.get(ctx, id, h.loader(i, id))
	if err != nil {
		return nil, fmt.Errorf("%s: offset %d: %w", h.node.path(), h.offs[i], err)
	}
	return data, nil
}
