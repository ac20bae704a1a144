package fs

import (
	"container/list"
	"context"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cabinetbackup/cabinet/repo/blob"
)

// Decoded slices are reference counted so their memory is reused instead
// of collected: a sequential read of 1 GiB would otherwise allocate 1 GiB,
// and every collection walks the nodes the kernel knows (tens of MiB after
// a walk of a big session). The cache holds one reference to each slice it
// keeps; every read returning a slice's bytes holds one until the adapter
// has sent them (Data.Release). A slice evicted while read is recycled
// when the last reader releases it.

// sliceBuf is one decoded slice.
type sliceBuf struct {
	data []byte
	refs atomic.Int32
	pool *bufPool
}

// release drops one reference; the last one recycles the buffer. (A
// reference never released only costs the recycling: the collector frees
// the buffer.)
func (b *sliceBuf) release() {
	if b.refs.Add(-1) == 0 {
		b.pool.put(b.data)
		b.data = nil
	}
}

// bufPool recycles slice buffers (decoded slices and the sealed bytes
// they are decoded from): released buffers wait in a free list of bounded
// total size, and a request takes the smallest one big enough. When the
// list is full the smallest buffer makes room, so the list drifts towards
// buffers that fit any slice instead of filling with ones too small for
// the next. (sync.Pool lost its buffers at every collection, and pools per
// size class kept idle buffers of every class.)
type bufPool struct {
	max int64 // bytes kept in the free list at most

	mu   sync.Mutex
	free [][]byte // sorted by capacity
	size int64
}

// bufRound is the allocation granularity.
const bufRound = 64 << 10

// get returns an empty buffer with room for n bytes.
func (p *bufPool) get(n int) []byte {
	p.mu.Lock()
	i := sort.Search(len(p.free), func(i int) bool { return cap(p.free[i]) >= n })
	if i < len(p.free) && cap(p.free[i]) <= 4*n+bufRound {
		b := p.free[i]
		p.free = slices.Delete(p.free, i, i+1)
		p.size -= int64(cap(b))
		p.mu.Unlock()
		return b[:0]
	}
	p.mu.Unlock()
	return make([]byte, 0, (n+bufRound-1)/bufRound*bufRound)
}

// put offers b for reuse.
func (p *bufPool) put(b []byte) {
	c := int64(cap(b))
	if c == 0 || c > p.max {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.size+c > p.max && len(p.free) > 0 && int64(cap(p.free[0])) < c {
		p.size -= int64(cap(p.free[0]))
		p.free = slices.Delete(p.free, 0, 1)
	}
	if p.size+c > p.max {
		return
	}
	i := sort.Search(len(p.free), func(i int) bool { return cap(p.free[i]) >= cap(b) })
	p.free = slices.Insert(p.free, i, b[:0])
	p.size += c
}

// sliceCache is a byte-bounded LRU of decoded slices with one load per
// slice at a time (singleflight). Loads run on the cache's background
// context: a reader that gives up (an interrupted read) does not cancel a
// fetch others share. Failed loads are not cached.
type sliceCache struct {
	bg   context.Context
	max  int64
	pool bufPool

	mu       sync.Mutex
	used     int64
	ll       list.List // of *sliceEntry, front = most recent
	items    map[blob.ID]*list.Element
	inflight map[blob.ID]*sliceCall
}

type sliceEntry struct {
	id  blob.ID
	buf *sliceBuf
}

type sliceCall struct {
	done    chan struct{}
	buf     *sliceBuf
	err     error
	waiters int // readers waiting; each gets a reference when it loads
}

// sliceLoader decodes a slice into a buffer from the pool.
type sliceLoader func(ctx context.Context, pool *bufPool) ([]byte, error)

func newSliceCache(bg context.Context, budget int64) *sliceCache {
	return &sliceCache{bg: bg, max: budget, pool: bufPool{max: max(budget/4, 8<<20)},
		items: map[blob.ID]*list.Element{}, inflight: map[blob.ID]*sliceCall{}}
}

// get returns slice id with a reference the caller must release.
func (c *sliceCache) get(ctx context.Context, id blob.ID, load sliceLoader) (*sliceBuf, error) {
	c.mu.Lock()
	if e, ok := c.items[id]; ok {
		c.ll.MoveToFront(e)
		b := e.Value.(*sliceEntry).buf
		b.refs.Add(1)
		c.mu.Unlock()
		return b, nil
	}
	call := c.startLocked(id, load)
	call.waiters++
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.buf, call.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	select {
	case <-call.done: // finished meanwhile: the reference is ours to drop
		c.mu.Unlock()
		if call.err == nil {
			call.buf.release()
		}
	default:
		call.waiters--
		c.mu.Unlock()
	}
	return nil, ctx.Err()
}

// prefetch starts loading id unless it is cached or being loaded.
func (c *sliceCache) prefetch(id blob.ID, load sliceLoader) {
	c.mu.Lock()
	if _, ok := c.items[id]; !ok {
		c.startLocked(id, load)
	}
	c.mu.Unlock()
}

func (c *sliceCache) startLocked(id blob.ID, load sliceLoader) *sliceCall {
	if call, ok := c.inflight[id]; ok {
		return call
	}
	call := &sliceCall{done: make(chan struct{})}
	c.inflight[id] = call
	go c.run(id, call, load)
	return call
}

func (c *sliceCache) run(id blob.ID, call *sliceCall, load sliceLoader) {
	data, err := load(c.bg, &c.pool)
	var buf *sliceBuf
	if err == nil {
		buf = &sliceBuf{data: data, pool: &c.pool}
	}
	c.mu.Lock()
	delete(c.inflight, id)
	if err == nil {
		buf.refs.Store(int32(1 + call.waiters)) // the cache's and each waiter's
		c.addLocked(id, buf)
	}
	call.buf, call.err = buf, err
	close(call.done) // under c.mu: a giving-up waiter sees done or is not counted
	c.mu.Unlock()
}

func (c *sliceCache) addLocked(id blob.ID, buf *sliceBuf) {
	c.items[id] = c.ll.PushFront(&sliceEntry{id: id, buf: buf})
	c.used += int64(cap(buf.data))
	for c.used > c.max && c.ll.Len() > 1 {
		last := c.ll.Back()
		ent := last.Value.(*sliceEntry)
		c.ll.Remove(last)
		delete(c.items, ent.id)
		c.used -= int64(cap(ent.buf.data))
		ent.buf.release()
	}
}

func (c *sliceCache) stats() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.used
}
