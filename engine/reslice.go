package engine

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"sort"

	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/chunker"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// A changed large file is mostly what it was: a database or disk image
// with pages rewritten in place, a log with lines appended. Its previous
// slices, from the register, say where the chunker cut it last time, and
// a slice the chunker cut ends where it ends whatever follows (its cut
// depends on its own bytes only). So where a previous slice's bytes are
// found again at a slice start, the chunker would cut them as before:
// resliceFile proposes each previous slice in turn, reads it straight into
// a slice buffer and lets the workers check its ID, with no chunker pass
// and no copies. Only where a proposed slice's ID differs does it run the
// chunker, from that slice's start until a cut falls on a previous
// boundary again. The slices are those the chunker alone would make: the
// IDs prove it, so nothing here can store a wrong slice.
//
// Day-2 backup of the benchmark corpus (two large files changed: 10 MiB
// rewritten in the middle of one, 16 MiB appended to the other), four
// interleaved pairs: 1.67-1.85 s (and one 2.82) against 2.09-2.37 s, user
// CPU 1.26-1.43 s against 1.91-2.10 s. The kernel is asked to read
// resliceAhead bytes ahead of the proposals: the reader waits for the
// workers at times, and the disk stood still meanwhile (the 1 GiB file
// took 0.66 s instead of 0.44 s).

// resliceAhead is how far ahead of the proposals the kernel is asked to
// read, adviseStep bytes at a time (it reads at most its read-ahead size,
// 8 MiB here, per request).
const resliceAhead, adviseStep = 64 << 20, 8 << 20

// sliceReport is a worker's word on one slice of a file resliced along
// its previous slices: its ID, and whether it was stored (a proposed slice
// is not when its ID is not the previous one).
type sliceReport struct {
	i        int
	id       blob.ID
	ok       bool
	proposed bool
}

// previousSlices are a file's slices in the register.
type previousSlices struct {
	ids   []blob.ID
	sizes []uint32
}

// previousSlices returns the slices the register has for a changed file.
func (b *backupRun) previousSlices(f *fileNode) previousSlices {
	var prev previousSlices
	if b.reg == nil || !f.changed {
		return prev
	}
	b.reg.view([]byte(f.path()), func(v []byte) {
		var n snapshot.Node
		if _, _, ok := decodeRegisterValue(v, &n); ok { // copies out of v
			prev = previousSlices{ids: n.Content, sizes: n.Sizes}
		}
	})
	return prev
}

// slicer hands one file's slices to the workers in file order.
type slicer struct {
	ctx   context.Context
	f     *fileNode
	jobs  chan<- sliceJob
	total uint64 // bytes sent
	pause *pauseWatch
}

// send gives the workers the file's next slice; false if cancelled.
func (s *slicer) send(j sliceJob) bool {
	s.pause.wait(s.ctx)
	f := s.f
	f.mu.Lock()
	f.meta.Content = append(f.meta.Content, blob.ID{})
	f.meta.Sizes = append(f.meta.Sizes, uint32(len(j.data)))
	j.f, j.i = f, len(f.meta.Content)-1
	f.mu.Unlock()
	s.total += uint64(len(j.data))
	f.wg.Add(1)
	select {
	case s.jobs <- j:
		return true
	case <-s.ctx.Done():
		f.wg.Done()
		return false
	}
}

// truncate drops the slices from the n-th on. No worker may still hold
// one of them.
func (s *slicer) truncate(n int) {
	f := s.f
	f.mu.Lock()
	for _, size := range f.meta.Sizes[n:] {
		s.total -= uint64(size)
	}
	f.meta.Content, f.meta.Sizes = f.meta.Content[:n], f.meta.Sizes[:n]
	f.mu.Unlock()
}

// resliceWindow is how many slices of a file may be with the workers at
// once while it is resliced: proposals ahead of their verdicts.
func (b *backupRun) resliceWindow() int { return 2*b.o.Workers + 4 }

// reslicer is the state of one file's reslicing.
type reslicer struct {
	b       *backupRun
	s       *slicer
	fh      *os.File
	prev    previousSlices
	starts  []int64          // previous slice k began at starts[k]; starts[len] is the old size
	byID    map[blob.ID]int  // a previous slice's index by ID
	report  chan sliceReport // the workers' reports on this file's slices
	ends    []int64          // where each slice sent ends, by slice index
	pos     int64            // where the next slice starts
	delta   int64            // new offset minus old offset of the same bytes, last seen
	busy    int              // slices sent, not reported
	miss    int              // the first proposed slice found changed, or -1
	misses  int              // times a proposal was found changed and dropped
	hits    int              // slices stored
	advised int64            // the kernel was asked to read up to here
	reused  int              // proposals stored
	// zeroCheck is readZeros' buffer, made for the first slice of zeros.
	zeroCheck []byte
}

// resliceFile slices f along its previous slices (see the top of this
// file), then with the chunker where they no longer fit.
func (b *backupRun) resliceFile(s *slicer, fh *os.File, prev previousSlices, cp *chunker.Params, chunkBufs chan *chunkerBufs, bufs *slicePools) {
	r := &reslicer{b: b, s: s, fh: fh, prev: prev, miss: -1,
		starts: make([]int64, len(prev.sizes)+1), byID: make(map[blob.ID]int, len(prev.ids)),
		report: make(chan sliceReport, b.resliceWindow())}
	for k, size := range prev.sizes {
		r.starts[k+1] = r.starts[k] + int64(size)
		r.byID[prev.ids[k]] = k
	}
	if err := r.run(cp, chunkBufs, bufs); err != nil {
		if !errors.Is(err, context.Canceled) && s.ctx.Err() == nil {
			b.fileFailed(s.f, err)
		}
		s.f.failed = true
	}
	// Reports still due go to r.report, which has room for all of them.
	if b.o.resliced != nil {
		b.o.resliced(s.f.path(), r.reused, r.misses)
	}
}

// run alternates between proposing previous slices and the chunker.
func (r *reslicer) run(cp *chunker.Params, chunkBufs chan *chunkerBufs, bufs *slicePools) error {
	k := 0 // the previous slice to propose next
	for {
		if r.speculating() {
			// The last previous slice ended where the file did, not
			// where the chunker cut: never proposed.
			for k < len(r.prev.sizes)-1 && r.miss < 0 {
				more, err := r.propose(k, bufs)
				if err != nil {
					return err
				}
				if !more {
					break
				}
				k++
			}
		}
		if r.miss < 0 {
			var err error
			var resumed bool
			if k, resumed, err = r.chunk(cp, chunkBufs, bufs); err != nil {
				return err
			}
			if resumed {
				continue
			}
			if err := r.settle(); err != nil { // the end: every verdict in
				return err
			}
			if r.miss < 0 {
				return nil
			}
		}
		// A proposed slice differs: drop it and every slice after it,
		// and slice from its start with the chunker.
		if err := r.settle(); err != nil {
			return err
		}
		r.misses++
		r.s.truncate(r.miss)
		r.ends = r.ends[:r.miss]
		r.pos = 0
		if r.miss > 0 {
			r.pos = r.ends[r.miss-1]
		}
		r.miss = -1
		k = len(r.prev.sizes) // until a cut meets a previous boundary
	}
}

// speculating says whether proposals still pay: each changed one costs the
// reading and hashing of the slices proposed after it.
func (r *reslicer) speculating() bool { return r.misses <= 2+r.hits/32 }

// propose reads previous slice k at r.pos and sends it to be checked. It
// returns false, with nothing sent, if the file ends before the slice does.
func (r *reslicer) propose(k int, bufs *slicePools) (bool, error) {
	size := int(r.prev.sizes[k])
	for r.advised < r.pos+resliceAhead {
		r.advised = max(r.advised, r.pos)
		adviseWillNeed(r.fh, r.advised, adviseStep)
		r.advised += adviseStep
	}
	if id, ok := r.b.zeros.known(size); ok && id == r.prev.ids[k] {
		switch zeros, err := r.readZeros(size); {
		case err != nil && !errors.Is(err, io.EOF):
			return false, err
		case err != nil: // the file ends before the slice does
			return false, nil
		case zeros:
			r.delta = r.pos - r.starts[k]
			return true, r.send(sliceJob{data: r.b.zeros.data(size), propose: true, want: id, zeros: true})
		}
	}
	buf := bufs.Get(size)[:size]
	n, err := r.fh.ReadAt(buf, r.pos)
	if n < size {
		bufs.Put(buf)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		return false, nil
	}
	r.delta = r.pos - r.starts[k]
	if err := r.send(sliceJob{data: buf, propose: true, want: r.prev.ids[k]}); err != nil {
		return false, err
	}
	return true, nil
}

// zeroCheckSize is how much of a proposed slice of zeros readZeros reads
// at a time.
const zeroCheckSize = 256 << 10

// readZeros reports whether the size bytes at r.pos are all zeros,
// reading them a piece at a time into one small buffer: a run of zeros
// (a disk image, a preallocated file) proposed as slices of zeros needs no
// slice buffers. Day-2 backup of the corpus: the 4 MiB buffers of the
// half-zero file's 256 MiB of zeros (which the pools do not keep) had the
// collector run every 8 ms, 40 times over that file; the backup took
// 1.67-1.75 s, now 1.53-1.55 s (four interleaved pairs, one noisy pair
// left out: 2.17 against 2.18 s). It returns io.EOF if the file ends first.
func (r *reslicer) readZeros(size int) (bool, error) {
	if r.zeroCheck == nil {
		r.zeroCheck = make([]byte, zeroCheckSize)
	}
	for off := 0; off < size; off += zeroCheckSize {
		piece := r.zeroCheck[:min(zeroCheckSize, size-off)]
		n, err := r.fh.ReadAt(piece, r.pos+int64(off))
		if n < len(piece) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return false, err
		}
		if !chunker.IsZero(piece) {
			return false, nil
		}
	}
	return true, nil
}

// send sends a slice once fewer than a window of them are out, and takes
// in the reports that have come.
func (r *reslicer) send(j sliceJob) error {
	for r.busy >= cap(r.report) {
		if err := r.take(true); err != nil {
			return err
		}
	}
	j.report = r.report
	if !r.s.send(j) {
		return context.Cause(r.s.ctx)
	}
	r.busy++
	r.pos += int64(len(j.data))
	r.ends = append(r.ends, r.pos)
	for r.busy > 0 {
		if err := r.take(false); err != nil {
			if errors.Is(err, errNoReport) {
				return nil
			}
			return err
		}
	}
	return nil
}

var errNoReport = errors.New("no report yet")

// take takes in one report, waiting for it if wait is set.
func (r *reslicer) take(wait bool) error {
	var rep sliceReport
	if wait {
		select {
		case rep = <-r.report:
		case <-r.s.ctx.Done():
			return context.Cause(r.s.ctx)
		}
	} else {
		select {
		case rep = <-r.report:
		default:
			return errNoReport
		}
	}
	r.busy--
	if r.s.ctx.Err() != nil {
		return context.Cause(r.s.ctx)
	}
	switch {
	case !rep.ok:
		if r.miss < 0 || rep.i < r.miss {
			r.miss = rep.i
		}
	default:
		// A slice that is a previous one tells where the file's bytes
		// moved to: the chunker's cuts meet the previous boundaries moved
		// by as much.
		if k, found := r.byID[rep.id]; found {
			r.delta = r.ends[rep.i] - r.starts[k+1]
		}
		r.hits++
		if rep.proposed {
			r.reused++
		}
	}
	return nil
}

// settle waits for every report.
func (r *reslicer) settle() error {
	for r.busy > 0 {
		if err := r.take(true); err != nil {
			return err
		}
	}
	return nil
}

// chunk runs the chunker from r.pos until a cut falls on a previous
// boundary (moved by r.delta) that starts a slice it may propose, or to
// the end of the file. It returns that slice's index and whether it
// stopped there.
func (r *reslicer) chunk(cp *chunker.Params, chunkBufs chan *chunkerBufs, bufs *slicePools) (int, bool, error) {
	var cb *chunkerBufs
	select {
	case cb = <-chunkBufs:
	case <-r.s.ctx.Done():
		return 0, false, context.Cause(r.s.ctx)
	}
	defer func() { chunkBufs <- cb }()
	var in io.Reader = io.NewSectionReader(r.fh, r.pos, math.MaxInt64-r.pos)
	if int64(r.s.f.meta.Size)-r.pos >= readAheadMin {
		cb.fillAhead()
		ra := newReadAhead(in, cb.ahead)
		defer func() { cb.ahead = ra.Close() }()
		in = ra
	}
	c := chunker.New(cp, in, cb.chunk)
	defer func() { cb.chunk = c.Buffer() }()
	for {
		view, err := c.Peek()
		if errors.Is(err, io.EOF) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		if err := r.send(r.b.newSlice(view, bufs)); err != nil {
			return 0, false, err
		}
		if r.miss >= 0 { // an earlier proposal differs: start again there
			return 0, false, nil
		}
		if !r.speculating() {
			continue
		}
		old := r.pos - r.delta
		k := sort.Search(len(r.starts), func(k int) bool { return r.starts[k] >= old })
		if k < len(r.prev.sizes)-1 && r.starts[k] == old {
			return k, true, nil
		}
	}
}
