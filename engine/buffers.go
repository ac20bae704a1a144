package engine

// slicePools recycle the buffers slices travel in from readers to workers.
// Unlike a sync.Pool they keep a bounded number of buffers and drop those
// that grew large, so a backup's memory does not creep up with the largest
// slices it has seen. Small files use small buffers.
type slicePools struct {
	small, large       chan []byte
	smallCap, largeCap int
}

func newSlicePools(avg, keep int) *slicePools {
	return &slicePools{
		small: make(chan []byte, 4*keep), large: make(chan []byte, keep),
		smallCap: 64 << 10, largeCap: 2 * avg,
	}
}

// Get returns an empty buffer with room for at least n bytes (n <= the
// large capacity) or a large one.
func (p *slicePools) Get(n int) []byte {
	if n <= p.smallCap {
		select {
		case b := <-p.small:
			return b[:0]
		default:
			return make([]byte, 0, p.smallCap)
		}
	}
	select {
	case b := <-p.large:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, max(n, p.largeCap))
}

// Put returns a buffer for reuse.
func (p *slicePools) Put(b []byte) {
	switch c := cap(b); {
	case c == p.smallCap:
		select {
		case p.small <- b:
		default:
		}
	case c >= p.largeCap && c <= p.largeCap+p.largeCap/2:
		select {
		case p.large <- b:
		default:
		}
	}
}
