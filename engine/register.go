package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// ErrBusy means another session of the same device and data source runs.
var ErrBusy = errors.New("another session of this device and data source is running")

var registerBucket = []byte("files")

// register remembers, per device and data source, each file's attributes
// and slices from the last session. It is a cache: losing it costs a full
// read of the files, never data.
type register struct {
	db   *bolt.DB
	path string
	// lookups counts reads since the register last left the resident set
	// (trimResident, every trimEvery).
	lookups atomic.Int64

	mu      sync.Mutex
	batch   []registerEntry // put, not yet handed to a writer
	writeMu sync.Mutex      // one write transaction at a time
	writers sync.WaitGroup
	failed  atomic.Bool // a write failed: the rest would fail too
}

type registerEntry struct{ key, value []byte }

// registerBatch is how many entries one write transaction stores: it
// bounds the memory of both the batch and bbolt's transaction.
const registerBatch = 10000

// residentBudget is how much of the register a scan may keep mapped: a
// register at most this large is never trimmed, a larger one every
// trimEvery reads. A look-up faults in the pages of its path through the
// tree again after a trim, and each fault maps up to 16 neighbouring pages
// (fault-around), so on a 1M-file register (181 MB) 1,000 reads between
// trims mapped up to 74 MB, 256 up to 60 MB: no-change peak 165-184 MB.
// Every 64: 141-143 MB, 0.2-0.5 s more on 5.7-6.1 s.
const residentBudget = 16 << 20

// trimEvery is how many register reads pass between trims.
const trimEvery = 64

// noteLookups counts n reads made in the read transaction tx, still open,
// and trims the resident set every trimEvery once the register is larger
// than residentBudget.
func (r *register) noteLookups(tx *bolt.Tx, n int) {
	if tx.Size() <= residentBudget {
		return
	}
	if r.lookups.Add(int64(n)) >= trimEvery {
		r.lookups.Store(0)
		trimResident(tx)
	}
}

// fingerprint is what scanning compares to decide a file is unchanged.
type fingerprint struct {
	size, mtime, ctime, inode uint64
	mode                      uint32
}

func openRegister(dir, device, source string) (*register, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("register folder %s: %w", dir, err)
	}
	p := filepath.Join(dir, "register-"+repo.DeviceFolder(device)+"-"+source+".db")
	// The freelist is kept in the file: without it (NoFreelistSync) every
	// open rebuilt it by reading all pages, 170 ms of a cold no-change
	// backup with 78,000 files.
	opts := &bolt.Options{Timeout: 500 * time.Millisecond, NoSync: true}
	db, err := bolt.Open(p, 0o600, opts)
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w (register %s is locked): wait for it to finish", ErrBusy, p)
	}
	if err != nil {
		// A damaged cache is rebuilt from scratch.
		os.Remove(p)
		if db, err = bolt.Open(p, 0o600, opts); err != nil {
			return nil, fmt.Errorf("open register %s: %w", p, err)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(registerBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("register %s: %w", p, err)
	}
	go warmPageCache(p)
	return &register{db: db, path: p}, nil
}

// warmPageCache reads the register file once, sequentially, so the
// scan's look-ups (random page faults through bbolt's mmap) find it in the
// page cache: on a cold cache the faults, one disk read each, were most of
// a no-change backup's time.
func warmPageCache(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	io.Copy(io.Discard, f)
}

// put stores an entry, a batch at a time, and never waits for a write:
// scanners call it inside read transactions, and a write that grows the
// file waits for every open read transaction to end (bbolt's remap).
// Entries may be written before the session is saved: an entry is used
// only if all its slices are in the repository's index, and an empty file
// has none.
func (r *register) put(key, value []byte) {
	if full := r.add(key, value); full != nil {
		r.writers.Add(1)
		go func() {
			defer r.writers.Done()
			r.writeBatch(full)
		}()
	}
}

// store is put for callers outside any read transaction: it writes a full
// batch before it returns, so batches cannot pile up in memory (the
// million entries of an initial backup, put faster than written, held
// 160 MB at its end).
func (r *register) store(key, value []byte) {
	if full := r.add(key, value); full != nil {
		r.writeBatch(full)
	}
}

// add appends an entry and returns the batch if it is full.
func (r *register) add(key, value []byte) (full []registerEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batch = append(r.batch, registerEntry{key, value})
	if len(r.batch) >= registerBatch {
		full, r.batch = r.batch, nil
	}
	return full
}

func (r *register) writeBatch(entries []registerEntry) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if !r.failed.Load() && r.write(entries) != nil {
		r.failed.Store(true)
	}
}

// flush waits for the batches handed to writers and writes the rest. It
// must not be called inside a read transaction.
func (r *register) flush() error {
	r.writers.Wait()
	r.mu.Lock()
	rest := r.batch
	r.batch = nil
	r.mu.Unlock()
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if r.failed.Load() {
		return errors.New("register write failed")
	}
	return r.write(rest)
}

// write stores entries in one transaction, in key order (bbolt then fills
// its pages in order, 90 % full), and trims the resident set.
func (r *register) write(entries []registerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	slices.SortFunc(entries, func(a, b registerEntry) int { return bytes.Compare(a.key, b.key) })
	err := r.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(registerBucket)
		bk.FillPercent = 0.9
		for _, e := range entries {
			if err := bk.Put(e.key, e.value); err != nil {
				return err
			}
		}
		return nil
	})
	r.db.View(func(tx *bolt.Tx) error {
		trimResident(tx)
		return nil
	})
	return err
}

func (g *register) close() {
	if g != nil {
		g.writers.Wait()
		g.db.Close()
	}
}

func encodeRegisterValue(fp fingerprint, n *snapshot.Node) []byte {
	buf := make([]byte, 0, 48+len(n.Content)*37)
	buf = binary.AppendUvarint(buf, fp.size)
	buf = binary.AppendUvarint(buf, fp.mtime)
	buf = binary.AppendUvarint(buf, fp.ctime)
	buf = binary.AppendUvarint(buf, fp.inode)
	buf = binary.AppendUvarint(buf, uint64(fp.mode))
	buf = binary.AppendUvarint(buf, uint64(len(n.Content)))
	for i, id := range n.Content {
		buf = append(buf, id[:]...)
		buf = binary.AppendUvarint(buf, uint64(n.Sizes[i]))
	}
	// The file's extended attributes: a changed attribute changes the
	// ctime, so an unchanged fingerprint reuses them without a listxattr.
	buf = binary.AppendUvarint(buf, uint64(len(n.Xattrs)))
	for _, x := range n.Xattrs {
		buf = binary.AppendUvarint(buf, uint64(len(x.Name)))
		buf = append(buf, x.Name...)
		buf = binary.AppendUvarint(buf, uint64(len(x.Value)))
		buf = append(buf, x.Value...)
	}
	return buf
}

// decodeRegisterValue returns the stored fingerprint, slices and extended
// attributes; ok is false for anything malformed (treated as "not in the
// register"). n.Xattrs is non-nil when the value holds them (an empty
// slice for none); values written before they were stored leave it nil.
func decodeRegisterValue(v []byte, n *snapshot.Node) (fp fingerprint, ok bool) {
	var vals [6]uint64
	for i := range vals {
		x, k := binary.Uvarint(v)
		if k <= 0 {
			return fp, false
		}
		vals[i] = x
		v = v[k:]
	}
	fp = fingerprint{size: vals[0], mtime: vals[1], ctime: vals[2], inode: vals[3], mode: uint32(vals[4])}
	count := vals[5]
	if count > uint64(len(v)/33) {
		return fp, false
	}
	n.Content = make([]blobID, count)
	n.Sizes = make([]uint32, count)
	var total uint64
	for i := range n.Content {
		if len(v) < 33 {
			return fp, false
		}
		copy(n.Content[i][:], v[:32])
		x, k := binary.Uvarint(v[32:])
		if k <= 0 {
			return fp, false
		}
		n.Sizes[i] = uint32(x)
		total += x
		v = v[32+k:]
	}
	if total != fp.size {
		return fp, false
	}
	n.Xattrs = nil
	if len(v) == 0 {
		return fp, true
	}
	field := func() ([]byte, bool) {
		l, k := binary.Uvarint(v)
		if k <= 0 || l > uint64(len(v)-k) {
			return nil, false
		}
		b := v[k : k+int(l)]
		v = v[k+int(l):]
		return b, true
	}
	nx, k := binary.Uvarint(v)
	if k <= 0 || nx > uint64(len(v)) {
		return fp, false
	}
	v = v[k:]
	n.Xattrs = make([]snapshot.Xattr, 0, nx)
	for range nx {
		name, ok1 := field()
		val, ok2 := field()
		if !ok1 || !ok2 {
			return fp, false
		}
		n.Xattrs = append(n.Xattrs, snapshot.Xattr{Name: string(name), Value: bytes.Clone(val)})
	}
	return fp, len(v) == 0
}
