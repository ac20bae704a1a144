package fs

import "github.com/cabinetbackup/cabinet/repo/blob"

// Holes. The chunker cuts a run of zeros into slices of its largest size
// (no cut point falls inside zeros), all with the same ID. A file's slices
// of that ID are reported as holes: its block count leaves them out (du,
// and cp --sparse=auto, which looks for holes only in a file with fewer
// blocks than its size says), and SEEK_HOLE and SEEK_DATA find them, so
// cp copies a disk image out of a session as sparse as it was. Smaller
// runs of zeros stay data: a restore leaves those as holes too, block by
// block.

// zeroSlice returns the ID of a slice of the chunker's largest size that
// holds only zeros, hashed once (a few milliseconds), and that size.
func (f *FS) zeroSlice() (blob.ID, uint32) {
	f.zeroOnce.Do(func() {
		size := f.r.Chunker().Sizes().Max
		f.zeroID = f.r.Key().ID(make([]byte, size))
		f.zeroSize = uint32(size)
	})
	return f.zeroID, f.zeroSize
}

// isHole reports whether slice i of the handle's file is zeroSlice.
func (h *fileHandle) isHole(i int) bool {
	id, size := h.fs.zeroSlice()
	return h.sizes[i] == size && h.content[i] == id
}

// Seek finds data or a hole (SEEK_DATA, SEEK_HOLE) at or after off: a
// hole is a zeroSlice, and there is one at the end of every file. At or
// past the end it returns an error wrapping ErrNoData (ENXIO).
func (h *fileHandle) Seek(off int64, whence int) (int64, error) {
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
