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
	mu  sync.Mutex
	ids map[int]blob.ID
}

// id returns the keyed ID of data, from the cache if data is all zeros.
func (z *zeroSlices) id(key *crypto.Key, data []byte) blob.ID {
	if len(data) == 0 || !chunker.IsZero(data) {
		return key.ID(data)
	}
	z.mu.Lock()
	id, ok := z.ids[len(data)]
	z.mu.Unlock()
	if !ok {
		id = key.ID(data)
		z.mu.Lock()
		if z.ids == nil {
			z.ids = map[int]blob.ID{}
		}
		z.ids[len(data)] = id
		z.mu.Unlock()
	}
	return id
}
