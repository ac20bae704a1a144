package engine

import (
	"sync"

	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/chunker"
	"github.com/cabinetbackup/cabinet/repo/crypto"
)

// zeroSlices names slices of zeros without hashing them. Disk images and
// preallocated files hold long runs of zeros, which the chunker cuts into
// equal slices (no cut point falls inside zeros): every such slice of one
// size has the same ID. Comparing with zeros (chunker.IsZero) runs several
// times faster than the keyed hash, and costs a slice with data a compare
// of its first bytes.
type zeroSlices struct {
	mu    sync.Mutex
	ids   map[int]blob.ID
	zeros []byte // read-only zeros (data)
}

// id returns the keyed ID of data, from the cache if data is all zeros.
func (z *zeroSlices) id(key *crypto.Key, data []byte) blob.ID {
	if len(data) == 0 || !chunker.IsZero(data) {
		return key.ID(data)
	}
	return z.ofSize(key, len(data))
}

// ofSize returns the keyed ID of size zero bytes.
func (z *zeroSlices) ofSize(key *crypto.Key, size int) blob.ID {
	if id, ok := z.known(size); ok {
		return id
	}
	id := key.ID(z.data(size))
	z.mu.Lock()
	if z.ids == nil {
		z.ids = map[int]blob.ID{}
	}
	z.ids[size] = id
	z.mu.Unlock()
	return id
}

// known returns the ID of size zero bytes if a slice of them has been
// named.
func (z *zeroSlices) known(size int) (blob.ID, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	id, ok := z.ids[size]
	return id, ok
}

// data returns size read-only zero bytes: a slice of zeros goes to the
// workers in them, without a buffer of its own (reslicer.readZeros,
// backupRun.newSlice).
func (z *zeroSlices) data(size int) []byte {
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.zeros) < size {
		z.zeros = make([]byte, size)
	}
	return z.zeros[:size:size]
}
