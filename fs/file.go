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

// fileNode is a regular file inside a session: its folder, its index in
// the folder's tree and its attributes. It does not hold the decoded tree
// (the kernel may keep a node per file of a walked session for long): Open
// gets the tree from the LRU, loading it again if it was evicted.
//
// Its attributes are kept field by field, not as an Attr (56 bytes, not
// 72): a walked folder of a million files holds a million fileNodes.
type fileNode struct {
	dir       *treeDir
	ino, size uint64
	mtime     int64
	idx       uint32
	perm      uint32
	links     uint32
	uid, gid  uint32
	holes     uint32 // slices of zeros (holes.go): in what was padding
}

var _ File = (*fileNode)(nil)

func newFileNode(dir *treeDir, idx int, a Attr) fileNode {
	return fileNode{dir: dir, ino: a.Ino, size: a.Size, mtime: a.Mtime, idx: uint32(idx),
		perm: a.Perm, links: a.Links, uid: a.UID, gid: a.GID, holes: dir.f.holeSlices(a.Holes)}
}

func (f *fileNode) Attr() Attr {
	return Attr{Ino: f.ino, Type: snapshot.TypeFile, Perm: f.perm, Size: f.size, Links: f.links,
		UID: f.uid, GID: f.gid, Mtime: f.mtime, Holes: f.dir.f.holeBytes(f.holes)}
}

// Open returns a handle. It reads no content: slices are fetched on the
// first read that needs them.
func (f *fileNode) Open(ctx context.Context) (Handle, error) {
	lt, err := f.dir.load(ctx)
	if err != nil {
		return nil, err
	}
	if int(f.idx) >= lt.l.Len() {
		return nil, fmt.Errorf("%s: entry %d: %w", f.dir.path, f.idx, ErrNotExist)
	}
	n := lt.l.Node(int(f.idx))
	offs := make([]int64, len(n.Sizes)+1)
	for i, s := range n.Sizes {
		offs[i+1] = offs[i] + int64(s)
	}
	h := &fileHandle{fs: f.dir.f, path: f.dir.path + "/" + n.Name, content: n.Content, sizes: n.Sizes, offs: offs}
	h.last.Store(-1)
	h.ahead.Store(-1)
	return h, nil
}

// fileHandle reads one opened file. It holds no lock: concurrent reads
// share only the slice cache and two hints for read-ahead.
type fileHandle struct {
	fs      *FS
	path    string    // for messages
	content []blob.ID // the file's slices, from its tree node
	sizes   []uint32  // their plaintext sizes
	offs    []int64   // cumulative sizes: slice i covers [offs[i], offs[i+1])

	last  atomic.Int64 // slice of the latest read, for detecting sequential reads
	ahead atomic.Int64 // highest slice already scheduled for read-ahead
}

var (
	_ Handle = (*fileHandle)(nil)
	_ Seeker = (*fileHandle)(nil)
)

func (h *fileHandle) Close() error { return nil }

// sliceAt returns the index of the slice holding off (binary search).
func (h *fileHandle) sliceAt(off int64) int {
	return sort.Search(len(h.offs)-1, func(i int) bool { return h.offs[i+1] > off })
}

func (h *fileHandle) size() int64 { return h.offs[len(h.offs)-1] }

func (h *fileHandle) ReadAt(ctx context.Context, off int64, n int) (Data, error) {
	size := h.size()
	if off < 0 {
		return Data{}, fmt.Errorf("%s: negative offset %d", h.path, off)
	}
	if off >= size || n <= 0 {
		return Data{}, nil
	}
	end := min(off+int64(n), size)
	i := h.sliceAt(off)
	h.readAhead(i)
	var d Data
	for pos := off; pos < end; i++ {
		buf, err := h.slice(ctx, i)
		if err != nil {
			d.Release()
			return Data{}, err
		}
		from, to := pos-h.offs[i], min(end, h.offs[i+1])-h.offs[i]
		d.parts = append(d.parts, buf.data[from:to])
		d.bufs = append(d.bufs, buf)
		pos = h.offs[i] + to
	}
	return d, nil
}

// readAhead starts fetching the next Options.Prefetch slices (at most a
// quarter of the cache) when reads look sequential (same or next slice as
// the last read).
func (h *fileHandle) readAhead(i int) {
	last := h.last.Swap(int64(i))
	if int64(i) != last && int64(i) != last+1 {
		return
	}
	n := len(h.offs) - 1
	to := min(i+h.fs.opts.Prefetch, n-1)
	// At most a quarter of the cache ahead, so read-ahead of big slices
	// never evicts what it fetched before it is read.
	for to > i+1 && h.offs[to+1]-h.offs[i+1] > h.fs.opts.CacheSize/4 {
		to--
	}
	for {
		from := h.ahead.Load()
		if from >= int64(to) {
			return
		}
		if h.ahead.CompareAndSwap(from, int64(to)) {
			for j := max(int(from)+1, i+1); j <= to; j++ {
				id := h.content[j]
				h.fs.slices.prefetch(id, h.loader(j, id))
			}
			return
		}
	}
}

func (h *fileHandle) loader(i int, id blob.ID) sliceLoader {
	return func(ctx context.Context, pool *bufPool) ([]byte, error) {
		h.fs.sliceLoads.Add(1)
		data, err := h.fs.loadSlice(ctx, id, pool.get(int(h.sizes[i])))
		if err == nil && len(data) != int(h.sizes[i]) {
			err = fmt.Errorf("slice %s has %d bytes, the tree says %d", id.Short(), len(data), h.sizes[i])
		}
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				h.fs.opts.Logf("mount: %s: slice %d at offset %d: %v", h.path, i, h.offs[i], err)
			}
			return nil, err
		}
		return data, nil
	}
}

// slice returns slice i with a reference the caller releases.
func (h *fileHandle) slice(ctx context.Context, i int) (*sliceBuf, error) {
	id := h.content[i]
	buf, err := h.fs.slices.get(ctx, id, h.loader(i, id))
	if err != nil {
		return nil, fmt.Errorf("%s: offset %d: %w", h.path, h.offs[i], err)
	}
	return buf, nil
}
