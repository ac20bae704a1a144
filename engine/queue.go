package engine

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// The processing queue lives in a temporary file, not in memory: scanning
// a million new files used to hold a 216-byte fileNode for each until
// processing reached it (a 1M-file initial backup peaked at 380 MB). Each
// queued file is now a record in the queue file and a 24-byte queued
// entry; processing decodes the records as it dispatches the files.

// queued is a file waiting to be read, as the queue sorts it.
type queued struct {
	dir  *dirNode
	off  int64 // record offset in the queue file
	day  int32 // change day: ModTime / 24h
	rank int32 // first matching priority pattern; len(Priority) if none
}

// queueFile is the on-disk queue: records appended during scanning, one
// folder's files at a time (so a folder's records follow each other in
// name order), read back by offset during processing. It is a local
// temporary file, not part of the repository. When the file cannot be
// created or written (a full disk where the register lives), the records
// stay in memory: that costs memory, never the backup.
type queueFile struct {
	f    *os.File // nil: in memory only
	mu   sync.Mutex
	disk int64  // bytes in the file; records from disk on are in buf
	buf  []byte // not written yet, or all the rest once writing failed
	full bool   // writing failed: buf keeps everything from disk on
}

// queuePattern names queue files (os.CreateTemp's *: a random part).
const queuePattern = "cabinet-queue-*.tmp"

// queueFlush is how much the queue buffers before writing.
const queueFlush = 1 << 20

// newQueueFile creates the queue file in dir (the register's folder, or
// the system's temporary folder when empty).
func newQueueFile(dir string) *queueFile {
	if dir == "" {
		dir = os.TempDir()
	}
	if runtime.GOOS == "windows" {
		// Left by killed backups. A running backup's file is open, and
		// Windows refuses to remove it.
		stale, _ := filepath.Glob(filepath.Join(dir, queuePattern))
		for _, p := range stale {
			os.Remove(p)
		}
	}
	f, err := os.CreateTemp(dir, queuePattern)
	if err != nil {
		return &queueFile{full: true}
	}
	if runtime.GOOS != "windows" {
		// Unlinked at once: a killed backup leaves nothing behind. Windows
		// cannot remove an open file; close does it there.
		os.Remove(f.Name())
	}
	return &queueFile{f: f}
}

// add appends one folder's batch and moves its entries, now with their
// offsets in the queue, to small and large.
func (q *queueFile) add(bt *queueBatch, small, large *queueLane) {
	q.mu.Lock()
	defer q.mu.Unlock()
	base := q.disk + int64(len(q.buf))
	q.buf = append(q.buf, bt.buf...)
	for _, e := range bt.small {
		e.off += base
		small.add(e)
	}
	for _, e := range bt.large {
		e.off += base
		large.add(e)
	}
	if len(q.buf) >= queueFlush {
		q.flushLocked()
	}
}

// flushLocked writes buf to the file, or keeps it for good if that fails.
func (q *queueFile) flushLocked() {
	if q.full || len(q.buf) == 0 {
		return
	}
	if _, err := q.f.WriteAt(q.buf, q.disk); err != nil {
		q.full = true
		return
	}
	q.disk += int64(len(q.buf))
	q.buf = q.buf[:0]
}

// finish writes what is buffered; records can be read from then on.
func (q *queueFile) finish() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.flushLocked()
	if !q.full {
		q.buf = nil
	}
}

func (q *queueFile) close() {
	if q.f == nil {
		return
	}
	q.f.Close()
	if runtime.GOOS == "windows" {
		os.Remove(q.f.Name())
	}
}

// name is for messages.
func (q *queueFile) name() string {
	if q.f == nil {
		return "in memory"
	}
	return q.f.Name()
}

// queueBatch collects the queued files of one folder, in name order.
type queueBatch struct {
	buf          []byte
	small, large []queued // offsets relative to buf
}

// put encodes f into the batch; large says which lane reads it.
func (bt *queueBatch) put(f *fileNode, rank int32, large bool) {
	e := queued{dir: f.dir, off: int64(len(bt.buf)), day: int32(f.meta.ModTime / int64(24*time.Hour)), rank: rank}
	bt.buf = appendQueueRecord(bt.buf, f)
	if large {
		bt.large = append(bt.large, e)
	} else {
		bt.small = append(bt.small, e)
	}
}

// queueLane is one lane of the queue, its entries in chunks of queueChunk
// (the last one may be shorter): no single array holds them, so
// processing frees each chunk once it has dispatched its files, and the
// entries of a million files (24 MB) leave memory while the index fills
// instead of staying to the end of the session. Sorting is in place.
type queueLane [][]queued

// queueChunk is how many entries a full chunk holds (a power of two).
const queueChunk = 1 << 16

func (l *queueLane) add(e queued) {
	n := len(*l)
	if n == 0 || len((*l)[n-1]) == queueChunk {
		*l = append(*l, make([]queued, 0, 256))
		n++
	}
	c := &(*l)[n-1]
	if len(*c) == cap(*c) { // grown by hand: never past queueChunk
		grown := make([]queued, len(*c), min(2*cap(*c), queueChunk))
		copy(grown, *c)
		*c = grown
	}
	*c = append(*c, e)
}

// len returns the number of entries.
func (l queueLane) len() int {
	if len(l) == 0 {
		return 0
	}
	return (len(l)-1)*queueChunk + len(l[len(l)-1])
}

func (l queueLane) at(i int) *queued { return &l[i/queueChunk][i%queueChunk] }

// sortQueue orders a lane: priority patterns first, then by change date,
// the most recent day first, and within a day in folder order, name by
// name. The day granularity keeps a folder's files together, so their
// slices sit side by side in the cabinets (restores and mounts read them
// in sequence), and makes the order independent of which scan walker found
// a file first. A folder's records are in name order in the file, so the
// offset orders names.
func sortQueue(l queueLane) { sort.Sort(laneOrder(l)) }

// laneOrder sorts a queueLane across its chunks.
type laneOrder queueLane

func (o laneOrder) Len() int      { return queueLane(o).len() }
func (o laneOrder) Swap(i, j int) { a, c := queueLane(o).at(i), queueLane(o).at(j); *a, *c = *c, *a }
func (o laneOrder) Less(i, j int) bool {
	return compareQueued(queueLane(o).at(i), queueLane(o).at(j)) < 0
}

func compareQueued(a, c *queued) int {
	if a.rank != c.rank {
		return cmp.Compare(a.rank, c.rank)
	}
	if a.day != c.day {
		return cmp.Compare(c.day, a.day)
	}
	if a.dir != c.dir {
		return strings.Compare(a.dir.path, c.dir.path)
	}
	return cmp.Compare(a.off, c.off)
}

// queueReader reads records in queue order through a window of the file:
// a folder's records are read together.
type queueReader struct {
	q      *queueFile
	window []byte
	base   int64 // file offset of window[0]
}

const queueWindow = 256 << 10

func (q *queueFile) reader() *queueReader {
	return &queueReader{q: q, window: make([]byte, 0, queueWindow)}
}

// file decodes the record of e into a fileNode of e.dir.
func (r *queueReader) file(e queued) (*fileNode, error) {
	rec, err := r.record(e.off)
	if err != nil {
		return nil, fmt.Errorf("processing queue (%s) at %d: %w", r.q.name(), e.off, err)
	}
	f := &fileNode{dir: e.dir}
	if err := decodeQueueRecord(rec, f); err != nil {
		return nil, fmt.Errorf("processing queue (%s) at %d: %w", r.q.name(), e.off, err)
	}
	return f, nil
}

// record returns the record at off (a length, then the record).
func (r *queueReader) record(off int64) ([]byte, error) {
	if off >= r.q.disk { // kept in memory
		in := r.q.buf[off-r.q.disk:]
		n, k := binary.Uvarint(in)
		if k <= 0 || n > uint64(len(in)-k) {
			return nil, errors.New("bad record length")
		}
		return in[k : k+int(n)], nil
	}
	if err := r.load(off, binary.MaxVarintLen64); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	n, k := binary.Uvarint(r.window[off-r.base:])
	if k <= 0 || n > 1<<30 {
		return nil, errors.New("bad record length")
	}
	if err := r.load(off, k+int(n)); err != nil {
		return nil, err
	}
	start := off - r.base + int64(k)
	return r.window[start : start+int64(n)], nil
}

// load makes the window hold [off, off+n), reading at least queueWindow
// bytes (fewer at the end of the file: io.EOF only when short of n).
func (r *queueReader) load(off int64, n int) error {
	if off >= r.base && off+int64(n) <= r.base+int64(len(r.window)) {
		return nil
	}
	size := max(n, queueWindow)
	if cap(r.window) < size {
		r.window = make([]byte, 0, size)
	}
	got, err := r.q.f.ReadAt(r.window[:size], off)
	r.window, r.base = r.window[:got], off
	if got >= n {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return io.EOF
	}
	return err
}

// appendQueueRecord appends f's record: a length, then the name, the
// register fingerprint, the tree entry's attributes, whether the register
// had an older entry, and the extended attributes.
func appendQueueRecord(buf []byte, f *fileNode) []byte {
	var rec []byte
	rec = binary.AppendUvarint(rec, uint64(len(f.meta.Name)))
	rec = append(rec, f.meta.Name...)
	for _, v := range []uint64{f.fp.size, f.fp.mtime, f.fp.ctime, f.fp.inode, uint64(f.fp.mode),
		uint64(f.meta.Mode), uint64(f.meta.UID), uint64(f.meta.GID), uint64(f.meta.Links),
		uint64(f.meta.ModTime), f.meta.Size, f.meta.Inode, f.meta.DeviceID} {
		rec = binary.AppendUvarint(rec, v)
	}
	var flags byte
	if f.changed {
		flags |= 1
	}
	if f.meta.Xattrs != nil {
		flags |= 2 // read, maybe empty: nil means not read
	}
	rec = append(rec, flags)
	rec = binary.AppendUvarint(rec, uint64(len(f.meta.Xattrs)))
	for _, x := range f.meta.Xattrs {
		rec = binary.AppendUvarint(rec, uint64(len(x.Name)))
		rec = append(rec, x.Name...)
		rec = binary.AppendUvarint(rec, uint64(len(x.Value)))
		rec = append(rec, x.Value...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(rec)))
	return append(buf, rec...)
}

// decodeQueueRecord fills f from a record made by appendQueueRecord.
func decodeQueueRecord(rec []byte, f *fileNode) error {
	d := queueDecoder{b: rec}
	f.meta.Name = string(d.bytes())
	var v [13]uint64
	for i := range v {
		v[i] = d.uvarint()
	}
	f.fp = fingerprint{size: v[0], mtime: v[1], ctime: v[2], inode: v[3], mode: uint32(v[4])}
	f.meta.Mode, f.meta.UID, f.meta.GID, f.meta.Links = uint32(v[5]), uint32(v[6]), uint32(v[7]), uint32(v[8])
	f.meta.ModTime, f.meta.Size, f.meta.Inode, f.meta.DeviceID = int64(v[9]), v[10], v[11], v[12]
	flags := d.byte()
	f.changed = flags&1 != 0
	n := d.uvarint()
	if flags&2 != 0 {
		f.meta.Xattrs = []snapshot.Xattr{}
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := string(d.bytes())
		f.meta.Xattrs = append(f.meta.Xattrs, snapshot.Xattr{Name: name, Value: slices.Clone(d.bytes())})
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	return d.err
}

type queueDecoder struct {
	b   []byte
	err error
}

func (d *queueDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = errors.New("truncated record")
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *queueDecoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = cmp.Or(d.err, errors.New("truncated record"))
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *queueDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errors.New("truncated record")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
