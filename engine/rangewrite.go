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
// the file: its last block is written whole, zero-padded (O_DIRECT writes
// whole blocks), and the file cut back to size.
func (w *rangeWriter) finish(size int64) error {
	if w.n == 0 {
		return nil
	}
	n := w.n
	if n%blockAlign != 0 {
		n += blockAlign - n%blockAlign
		clear(w.stage[w.n:n])
	}
	if err := w.flush(n); err != nil {
		return err
	}
	if w.pos > size {
		return w.fh.Truncate(size)
	}
	return nil
}

// flush writes stage[:n] at pos, skipping all-zero blocks.
func (w *rangeWriter) flush(n int) error {
	start := -1 // first byte of the pending non-zero run
	for i := 0; i < n; i += blockAlign {
		if allZero(w.stage[i:min(i+blockAlign, n)]) {
			if start >= 0 {
				if err := w.writeAt(w.stage[start:i], w.pos+int64(start)); err != nil {
					return err
				}
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		if err := w.writeAt(w.stage[start:n], w.pos+int64(start)); err != nil {
			return err
		}
	}
	w.pos += int64(n)
	w.n = 0
	return nil
}

func (w *rangeWriter) writeAt(p []byte, off int64) error {
	_, err := w.fh.WriteAt(p, off)
	if err != nil && w.direct && directio.Disable(w.fh) {
		// The file system opened the file with O_DIRECT but refuses this
		// write (an alignment it does not take): the page cache, then.
		w.direct = false
		_, err = w.fh.WriteAt(p, off)
	}
	return err
}
