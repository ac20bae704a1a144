package fs

import (
	"fmt"

	"github.com/cabinetbackup/cabinet/repo/blob"
)

// Holes. The chunker cuts a run of zeros into slices of one size, all
// with the same ID: its largest size for most keys (no cut point falls
// inside zeros), a smaller one for the keys whose gear hash of zeros
// meets a cut point (chunker zerosHaveCut), the same number of bytes from
// every slice start. A file's slices of that ID are reported as holes:
// its block count leaves them out (du, and cp --sparse=auto, which looks
// for holes only in a file with fewer blocks than its size says), and
// SEEK_HOLE and SEEK_DATA find them, so cp copies a disk image out of a
// session as sparse as it was. Smaller runs of zeros stay data: a restore
// leaves those as holes too, block by block.

// zeroSlice returns the ID of the slice the chunker cuts from the start
// of a run of zeros (of its largest size for most keys: see above),
// hashed once (a few milliseconds), and that slice's size.
func (f *FS) zeroSlice() (blob.ID, uint32) {
	f.zeroOnce.Do(func() {
		c := f.r.Chunker()
		zeros := make([]byte, c.Sizes().Max)
		size := c.Cut(zeros)
		f.zeroID = f.r.Key().ID(zeros[:size])
		f.zeroSize = uint32(size)
	})
	return f.zeroID, f.zeroSize
}

// holeSlices is how many slices of zeros holes bytes are, as fileNode
// keeps it (at most what 32 bits hold: fewer holes are reported, never
// more).
func (f *FS) holeSlices(holes uint64) uint32 {
	_, size := f.zeroSlice()
	return uint32(min(holes/uint64(size), 1<<32-1))
}

// holeBytes is the bytes of n slices of zeros.
func (f *FS) holeBytes(n uint32) uint64 {
	_, size := f.zeroSlice()
	return uint64(n) * uint64(size)
}

// isHole reports whether slice i of the handle's file is zeroSlice.
func (h *fileHandle) isHole(i int) bool {
	id, size := h.fs.zeroSlice()
	return h.sizes[i] == size && h.content[i] == id
}

// Seek finds data or a hole (SEEK_DATA, SEEK_HOLE) at or after off: a
// hole is a zeroSlice, and there is one at the end of every file. At or
// past the end it returns an error wrapping ErrNoData (ENXIO); any other
// whence is ErrNotSupported.
func (h *fileHandle) Seek(off int64, whence int) (int64, error) {
	if whence != SeekData && whence != SeekHole {
		return 0, fmt.Errorf("seek whence %d: %w", whence, ErrNotSupported)
	}
	size := h.size()
	if off < 0 || off >= size {
		return 0, ErrNoData
	}
	for i := h.sliceAt(off); i < len(h.sizes); i++ {
		if h.isHole(i) == (whence == SeekHole) {
			return max(off, h.offs[i]), nil
		}
	}
	if whence == SeekHole {
		return size, nil
	}
	return 0, ErrNoData
}

// SeekData and SeekHole are the whence values of Seeker.Seek, as lseek(2)
// numbers them on Linux.
const (
	SeekData = 3
	SeekHole = 4
)
