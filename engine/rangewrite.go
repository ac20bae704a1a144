package engine

import (
	"os"

	"github.com/cabinetbackup/cabinet/internal/directio"
)

// Large files are restored in aligned ranges of rangeBytes, each written
// by one worker with O_DIRECT where the file system takes it (package
// directio): past the page cache, from a reused buffer. Ranges are
// aligned, so no two workers write one block; a slice that crosses a
// range's edge is decoded by both workers (one slice in 16 MiB).
const (
	rangeBytes = 16 << 20 // a multiple of rangeStage
	rangeStage = 4 << 20  // bytes a worker gathers before it writes
	blockAlign = directio.Align
)

// writeNonZero's blocks (sparseBlock) must be whole O_DIRECT blocks: this
// constant does not compile otherwise.
const _ uint = -(sparseBlock % blockAlign)

// rangeWriter writes one range of a file in order, from pos on (aligned),
// in stage-sized writes; all-zero blocks are left as holes (the file has
// its size already).
type rangeWriter struct {
	fh     *os.File
	direct bool
	stage  []byte // aligned, rangeStage bytes
	n      int    // bytes gathered in stage
	pos    int64  // file offset of stage[0]
}

// newStage returns an aligned rangeStage-byte buffer.
func newStage() []byte { return directio.Buffer(rangeStage) }

// openDirect opens an existing file for writing, with O_DIRECT where the
// file system takes it.
func openDirect(path string) (fh *os.File, direct bool, err error) {
	fh, err = openFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, false, err
	}
	return fh, directio.Enable(fh), nil
}

// write gathers p and writes every full stage.
func (w *rangeWriter) write(p []byte) error {
	for len(p) > 0 {
		k := copy(w.stage[w.n:], p)
		w.n += k
		p = p[k:]
		if w.n == len(w.stage) {
			if err := w.flush(w.n); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish writes what is gathered. A range that ends inside a block ends
// the file, which has its size already: O_DIRECT writes whole blocks, so
// the last, partial one goes through the page cache. (Written zero-padded
// and the file cut back to size, ext4 read that block back from the disk
// to zero its tail: a wait for every file of directBytes and more.)
func (w *rangeWriter) finish(size int64) error {
	tail := 0
	if w.direct {
		tail = w.n % blockAlign
	}
	if tail == 0 {
		return w.flush(w.n)
	}
	full := w.n - tail
	if _, err := writeNonZero(w, w.stage[:full], w.pos); err != nil {
		return err
	}
	last, off := w.stage[full:w.n], w.pos+int64(full)
	w.pos += int64(w.n)
	w.n = 0
	if !directio.Disable(w.fh) {
		// Still O_DIRECT: the block padded, the file cut back.
		last = w.stage[full : full+directio.Pad(w.stage[full:], tail)]
		if _, err := writeNonZero(w, last, off); err != nil {
			return err
		}
		return w.fh.Truncate(size)
	}
	w.direct = false
	_, err := writeNonZero(w, last, off)
	return err
}

// flush writes stage[:n] at pos, skipping all-zero blocks (pos is
// aligned, so writeNonZero's blocks are the file system's).
func (w *rangeWriter) flush(n int) error {
	if _, err := writeNonZero(w, w.stage[:n], w.pos); err != nil {
		return err
	}
	w.pos += int64(n)
	w.n = 0
	return nil
}

// WriteAt writes p at off, through the page cache from then on if the file
// system refuses the O_DIRECT write (an alignment it does not take).
func (w *rangeWriter) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.fh.WriteAt(p, off)
	if err != nil && w.direct && directio.Disable(w.fh) {
		w.direct = false
		n, err = w.fh.WriteAt(p, off)
	}
	return n, err
}
