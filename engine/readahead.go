package engine

import (
	"errors"
	"io"
)

// readAhead reads a file in the background, a block at a time, while its
// reader slices what was read before: the large lane's one goroutine had
// read, sliced and copied in turn, and read(2) (copying from the page
// cache, waiting for the disk) was a third of its time.
type readAhead struct {
	blocks chan readBlock // filled blocks, in file order
	free   chan []byte    // empty blocks
	stop   chan struct{}
	done   chan struct{} // closed when the background reads have ended
	cur    []byte        // the unread rest of the current block
	curBuf []byte        // the current block, to give back
	err    error         // what ended the current block
}

type readBlock struct {
	buf []byte
	n   int
	err error
}

// newReadAhead starts reading r into bufs, each a block.
func newReadAhead(r io.Reader, bufs [][]byte) *readAhead {
	ra := &readAhead{blocks: make(chan readBlock, len(bufs)), free: make(chan []byte, len(bufs)),
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, b := range bufs {
		ra.free <- b
	}
	go ra.fill(r)
	return ra
}

func (ra *readAhead) fill(r io.Reader) {
	defer close(ra.done)
	defer close(ra.blocks)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.stop:
			return
		}
		n, err := io.ReadFull(r, buf)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		ra.blocks <- readBlock{buf: buf, n: n, err: err} // never blocks: as many slots as blocks
		if err != nil {
			return
		}
	}
}

// Read implements io.Reader.
func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.curBuf != nil {
			ra.free <- ra.curBuf // never blocks: as many slots as blocks
			ra.curBuf = nil
		}
		b, ok := <-ra.blocks
		if !ok {
			return 0, io.ErrUnexpectedEOF // not reached: the last block carries an error
		}
		ra.curBuf, ra.cur, ra.err = b.buf, b.buf[:b.n], b.err
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops the background reads and returns the blocks for reuse.
func (ra *readAhead) Close() [][]byte {
	close(ra.stop)
	<-ra.done
	var bufs [][]byte
	if ra.curBuf != nil {
		bufs = append(bufs, ra.curBuf)
	}
	for b := range ra.blocks {
		bufs = append(bufs, b.buf)
	}
	for len(ra.free) > 0 {
		bufs = append(bufs, <-ra.free)
	}
	return bufs
}
