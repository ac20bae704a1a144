package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// ErrBusy means another session of the same device and data source runs.
var ErrBusy = errors.New("another session of this device and data source is running")

var (
	registerBucket = []byte("files")
	// metaBucket holds the register's generations (see register.begin).
	metaBucket = []byte("meta")
	// sessionsBucket holds the time and data source of the device's
	// sessions, by ID, as the last completed run knew them (findParent).
	sessionsBucket = []byte("sessions")
)

// Keys of metaBucket.
var (
	metaStarted   = []byte("started")   // the generation of the newest run that began
	metaCompleted = []byte("completed") // the generation of the newest run that completed
	metaTrusted   = []byte("trusted")   // the oldest generation whose entries are trusted
	metaIndex     = []byte("index")     // the index files present when "completed" ended
	metaDamaged   = []byte("damaged")   // the damaged index files runs have distrusted for
)

// dirKeyPrefix starts the keys of folder entries, which sit in the files
// bucket beside the files' entries: no path holds a NUL byte.
const dirKeyPrefix = "\x00dir\x00"

// register remembers, per device and data source, each file's attributes
// and slices from the last session. It is a cache: losing it costs a full
// read of the files, never data.
type register struct {
	db   *bolt.DB
	path string
	// lookups counts reads since the register last left the resident set
	// (trimResident, every trimEvery).
	lookups atomic.Int64

	// Generations: each run numbers the entries it writes with its own
	// generation (run). An entry's slices are in the repository without a
	// look at the index when trusted <= its generation <= completed; see
	// begin.
	run, completed uint64
	trusted        atomic.Uint64 // raised by distrust
	// sessions are the device's sessions the newest completed run knew of,
	// read by begin (see sessionsBucket).
	sessions  map[string]sessionSeen
	begun     []string // the index files begin was given
	damaged   []string // sorted: see distrust
	damagedMu sync.Mutex

	mu      sync.Mutex
	batch   []registerEntry // put, not yet handed to a writer
	writeMu sync.Mutex      // one write transaction at a time
	writers sync.WaitGroup
	failed  atomic.Bool // a write failed: the rest would fail too
	failErr error       // the write that failed (under writeMu)
	// broken: a read or write of the register met a damaged page (see
	// safely). The run neither reads nor writes it any more, and close
	// removes it: the next run builds it anew.
	broken atomic.Bool
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
// Every 64: 141-143 MB, 0.2-0.5 s more on 5.7-6.1 s. A register of the
// benchmark corpus (78,581 files, 35 MB) is not worth trimming: cold
// no-change backup 0.69-0.70 s untrimmed against 0.72-0.80 s, peak RSS
// 45 MB either way.
const residentBudget = 64 << 20

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
	// Only a register a run left unfinished (killed, or a power loss
	// before its pages reached the disk) has its pages checked: the check
	// reads the whole file before the scan can begin, 0.2 s of a 0.5 s
	// no-change backup of 78,000 files.
	_, err := os.Stat(unfinishedMarker(p))
	check := err == nil
	db, err := openChecked(p, opts, check)
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w (register %s is locked): wait for it to finish", ErrBusy, p)
	}
	if err != nil {
		// A damaged cache is rebuilt from scratch.
		os.Remove(p)
		if db, err = openChecked(p, opts, false); err != nil {
			return nil, fmt.Errorf("open register %s: %w", p, err)
		}
	}
	// The run writes from here on: a run that ends before it completes
	// (killed, or a crash) leaves the marker, and the next one checks.
	markUnfinished(p)
	r := &register{db: db, path: p}
	if err := r.createBuckets(); err != nil {
		db.Close()
		if !errors.Is(err, errRegisterDamaged) {
			return nil, fmt.Errorf("register %s: %w", p, err)
		}
		// Pages the open did not check (a run that completed left it, so
		// it was not checked) are damaged: a bad sector, say.
		os.Remove(p)
		if db, err = openChecked(p, opts, false); err != nil {
			return nil, fmt.Errorf("open register %s: %w", p, err)
		}
		r = &register{db: db, path: p}
		if err := r.createBuckets(); err != nil {
			db.Close()
			return nil, fmt.Errorf("register %s: %w", p, err)
		}
	}
	go warmPageCache(p)
	return r, nil
}

func (r *register) createBuckets() error {
	var err error
	if !r.safely(func() {
		err = r.db.Update(func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(registerBucket); err != nil {
				return err
			}
			_, err := tx.CreateBucketIfNotExists(metaBucket)
			return err
		})
	}) {
		return errRegisterDamaged
	}
	return err
}

// errRegisterDamaged is what a use of the register that met a damaged
// page returns (see safely).
var errRegisterDamaged = errors.New("damaged register")

// safely runs fn, which reads or writes the register's pages, so that a
// damaged page costs speed, not the backup. bbolt trusts its file: a
// damaged page makes it panic, or fault, which without SetPanicOnFault
// crashes the process (every backup of the device crashed until someone
// deleted the cache). Then the register is marked broken, and safely, now
// and from then on, runs nothing and reports false: the run reads every
// file it has not decided on yet, and writes nothing to the register.
func (r *register) safely(fn func()) (ok bool) {
	if r.broken.Load() {
		return false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			r.broken.Store(true)
			ok = false
		}
	}()
	fn()
	return true
}

// openChecked opens the register at p, with check also its pages. bbolt
// trusts its file: a page damaged on disk (a power loss during a run,
// which writes without syncing) made it panic in Open (a freelist page)
// or fault on the first look-up, and every backup of the device crashed
// until someone deleted the cache. Damage found here is an error, and the
// caller rebuilds the register: it costs speed only. A panic in Open is
// caught either way; the check walks every page once.
func openChecked(p string, opts *bolt.Options, check bool) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, fmt.Errorf("damaged register: %v", r)
		}
	}()
	if db, err = bolt.Open(p, 0o600, opts); err != nil {
		return nil, err
	}
	if !check {
		return db, nil
	}
	if err = checkRegister(db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkRegister reads every entry of every bucket (in this goroutine, so a
// fault on a damaged page is a panic openChecked recovers), then has bbolt
// check its page structure (reachability, double use, key order).
func checkRegister(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		// A damaged branch page can loop: no file of n pages holds more
		// than n*pageSize/16 entries.
		limit := tx.Size() / 16
		var entries int64
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if entries++; entries > limit {
					return errors.New("damaged register: more entries than the file can hold")
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		var first error
		for err := range tx.Check() { // drained: the check reads tx until it closes the channel
			if first == nil {
				first = fmt.Errorf("damaged register: %w", err)
			}
		}
		return first
	})
}

// begin starts a run, given the names of the repository's index files.
//
// A run trusts the entries of the runs since the register last had to
// doubt them: their slices are in the repository without loading the
// index (a million blobs take ~36 MB of memory and a read of every index
// file). Slices leave the repository only with the index files that list
// them (prune deletes and rewrites them; index files never change), so an
// entry written by a run that completed is still good while every index
// file present at that run's end is. Each run checks that, and otherwise
// trusts nothing older than itself. A run that did not complete (killed,
// failed) may have written entries whose slices never reached an index
// file; the next run then trusts nothing older either. Doubted entries are
// checked against the index and rewritten with the run's generation.
func (r *register) begin(indexFiles []string) error {
	markUnfinished(r.path)
	var err error
	if !r.safely(func() { err = r.beginTx(indexFiles) }) {
		return errRegisterDamaged
	}
	return err
}

func (r *register) beginTx(indexFiles []string) error {
	return r.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(metaBucket)
		started, completed, trusted := metaUint(m, metaStarted), metaUint(m, metaCompleted), metaUint(m, metaTrusted)
		r.run = max(started, completed) + 1
		r.completed = completed
		r.sessions = map[string]sessionSeen{}
		if b := tx.Bucket(sessionsBucket); b != nil {
			b.ForEach(func(k, v []byte) error {
				if seen, ok := decodeSessionSeen(v); ok {
					r.sessions[string(k)] = seen
				}
				return nil
			})
		}
		present := make(map[string]bool, len(indexFiles))
		for _, n := range indexFiles {
			present[n] = true
		}
		for _, n := range bytes.Split(m.Get(metaIndex), []byte("\n")) {
			if len(n) > 0 && !present[string(n)] {
				trusted = r.run // an index file is gone
			}
		}
		if completed == 0 || started != completed {
			trusted = r.run
		}
		r.trusted.Store(trusted)
		r.begun = slices.Clone(indexFiles)
		r.damaged = nil
		for _, n := range strings.Split(string(m.Get(metaDamaged)), "\n") {
			if present[n] { // a damaged file prune removed is forgotten
				r.damaged = append(r.damaged, n)
			}
		}
		if err := m.Put(metaStarted, binary.AppendUvarint(nil, r.run)); err != nil {
			return err
		}
		return m.Put(metaTrusted, binary.AppendUvarint(nil, trusted))
	})
}

// distrust is told the damaged index files the run's index lacks. For one
// no earlier run was told of, the run trusts no entry older than itself:
// trusted entries may use the blobs it lists. Entries of this run and
// later ones are checked against an index without it, so a file that
// stays damaged (until prune replaces it) does not make every later run
// check every entry again. complete records both; a run that does not
// complete makes the next one trust nothing older anyway.
func (r *register) distrust(damaged []string) {
	r.damagedMu.Lock()
	defer r.damagedMu.Unlock()
	for _, d := range damaged {
		if i, found := slices.BinarySearch(r.damaged, d); !found {
			r.damaged = slices.Insert(r.damaged, i, d)
			r.trusted.Store(r.run)
		}
	}
}

// complete records that the run completed: its entries are written (flush
// returned nil) and the index files listing all their slices are among
// indexFiles. sessions, if not nil, are the device's sessions now.
func (r *register) complete(indexFiles []string, sessions map[string]sessionSeen) error {
	// With the files the run began with: one removed meanwhile (a prune
	// from another machine) is in neither list otherwise, and the next run
	// would go on trusting entries whose slices it listed.
	names := slices.Concat(indexFiles, r.begun)
	slices.Sort(names)
	names = slices.Compact(names)
	var err error
	if !r.safely(func() { err = r.completeTx(names, sessions) }) {
		return errRegisterDamaged
	}
	if err != nil {
		return err
	}
	// Commits do not sync (NoSync: a killed process loses nothing, its
	// writes are in the page cache); the completed run does, once, so a
	// power loss finds the file as one run left it, not pages of several.
	if err := r.db.Sync(); err != nil {
		return err
	}
	if r.path != "" {
		os.Remove(unfinishedMarker(r.path))
	}
	return nil
}

func (r *register) completeTx(names []string, sessions map[string]sessionSeen) error {
	return r.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(metaBucket)
		if metaUint(m, metaStarted) != r.run {
			return errors.New("another run started") // cannot happen: the database is locked
		}
		if err := m.Put(metaIndex, []byte(strings.Join(names, "\n"))); err != nil {
			return err
		}
		if err := m.Put(metaTrusted, binary.AppendUvarint(nil, r.trusted.Load())); err != nil {
			return err
		}
		r.damagedMu.Lock()
		damaged := strings.Join(r.damaged, "\n")
		r.damagedMu.Unlock()
		if err := m.Put(metaDamaged, []byte(damaged)); err != nil {
			return err
		}
		if sessions != nil {
			if err := tx.DeleteBucket(sessionsBucket); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
				return err
			}
			b, err := tx.CreateBucket(sessionsBucket)
			if err != nil {
				return err
			}
			for id, seen := range sessions {
				if err := b.Put([]byte(id), seen.encode()); err != nil {
					return err
				}
			}
		}
		return m.Put(metaCompleted, binary.AppendUvarint(nil, r.run))
	})
}

// unfinishedMarker is the file that says a run of the register at p
// began and has not completed: its pages may be half written.
func unfinishedMarker(p string) string { return p + ".unfinished" }

// markUnfinished writes the marker of the register at p and makes it
// durable before the run writes any page: after a power loss, a register
// without it was last left by a completed (synced) run. A marker that
// cannot be written leaves the check out, as before.
func markUnfinished(p string) {
	if p == "" { // a register of a test, not a file
		return
	}
	m := unfinishedMarker(p)
	if _, err := os.Stat(m); err == nil {
		return
	}
	f, err := os.OpenFile(m, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	f.Sync()
	f.Close()
	if d, err := os.Open(filepath.Dir(m)); err == nil {
		d.Sync()
		d.Close()
	}
}

// trusts says whether an entry of generation gen needs no index look-up.
func (r *register) trusts(gen uint64) bool {
	return r.trusted.Load() <= gen && gen <= r.completed
}

// sessionSeen is what finding a backup's parent needs of a session.
type sessionSeen struct {
	time   int64 // Unix nanoseconds
	source string
}

func (s sessionSeen) encode() []byte {
	return append(binary.AppendVarint(nil, s.time), s.source...)
}

func decodeSessionSeen(v []byte) (sessionSeen, bool) {
	t, n := binary.Varint(v)
	if n <= 0 {
		return sessionSeen{}, false
	}
	return sessionSeen{time: t, source: string(v[n:])}, true
}

func metaUint(m *bolt.Bucket, key []byte) uint64 {
	x, k := binary.Uvarint(m.Get(key))
	if k <= 0 {
		return 0
	}
	return x
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
	if r.failed.Load() {
		return
	}
	if err := r.write(entries); err != nil {
		r.failErr = err
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
		return r.failErr
	}
	// A failed flush fails the next one too: the run is not recorded as
	// completed with entries missing.
	err := r.write(rest)
	if err != nil {
		r.failErr = err
		r.failed.Store(true)
	}
	return err
}

// write stores entries in one transaction, in key order (bbolt then fills
// its pages in order, 90 % full), and trims the resident set.
func (r *register) write(entries []registerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	slices.SortFunc(entries, func(a, b registerEntry) int { return bytes.Compare(a.key, b.key) })
	var err error
	if !r.safely(func() {
		err = r.db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(registerBucket)
			bk.FillPercent = 0.9
			for _, e := range entries {
				if err := bk.Put(e.key, e.value); err != nil {
					return err
				}
			}
			return nil
		})
	}) {
		return errRegisterDamaged
	}
	r.db.View(func(tx *bolt.Tx) error {
		trimResident(tx)
		return nil
	})
	return err
}

// registerLookup reads entries of the files bucket in one read
// transaction, a folder's worth, with one cursor. The bucket's Get made a
// cursor for every look-up and searched from the root, comparing whole
// paths (a no-change backup's largest user-space cost, with the
// allocations of the cursor's stack and the key). A folder's names come in
// byte order, as the register's keys, so the entry wanted is most often
// where the cursor is or a step or two on: it steps before it searches.
type registerLookup struct {
	c      *bolt.Cursor
	key    []byte // the key sought now
	sought []byte // the key sought before; nil: the cursor is not placed
	k, v   []byte // the cursor's entry: the first one from sought on (k nil: none)
}

// registerSteps is how many entries get steps over before it searches
// instead: a subfolder's entries lie between two files of its folder.
const registerSteps = 4

// lookup returns a registerLookup of the files bucket of tx, nil when the
// register is found damaged (see safely).
func (r *register) lookup(tx *bolt.Tx) *registerLookup {
	var l *registerLookup
	r.safely(func() {
		if bk := tx.Bucket(registerBucket); bk != nil {
			l = &registerLookup{c: bk.Cursor()}
		}
	})
	return l
}

// get reads key's entry through l and hands it to decode (which must copy
// what it keeps) unless it is absent or the register is found damaged
// (see safely).
func (r *register) get(l *registerLookup, key string, decode func(v []byte)) {
	r.safely(func() {
		l.key = append(l.key[:0], key...)
		if v := l.find(); v != nil {
			decode(v)
		}
	})
}

// find returns the value of l.key, nil when it has none.
func (l *registerLookup) find() []byte {
	// The cursor's entry is the first from sought on: no key lies in
	// [sought, k), so a key after sought is found by stepping from k.
	placed := l.sought != nil && bytes.Compare(l.key, l.sought) > 0
	for steps := 0; placed && l.k != nil && bytes.Compare(l.k, l.key) < 0; steps++ {
		if steps == registerSteps {
			placed = false
			break
		}
		l.k, l.v = l.c.Next()
	}
	if !placed {
		l.k, l.v = l.c.Seek(l.key)
	}
	l.key, l.sought = l.sought[:0], l.key // sought is l.key now; l.key gets the old buffer
	if l.k == nil || !bytes.Equal(l.k, l.sought) {
		return nil
	}
	return l.v // nil for a nested bucket: not a file's entry
}

// view is get in a read transaction of its own.
func (r *register) view(key []byte, decode func(v []byte)) {
	r.safely(func() {
		r.db.View(func(tx *bolt.Tx) error {
			if v := tx.Bucket(registerBucket).Get(key); v != nil {
				decode(v)
			}
			return nil
		})
	})
}

// close closes the register; one found damaged is removed, so the next
// run builds it anew.
func (g *register) close() {
	if g != nil {
		g.writers.Wait()
		g.db.Close()
		if g.broken.Load() && g.path != "" {
			os.Remove(g.path)
			os.Remove(unfinishedMarker(g.path))
		}
	}
}

// encodeRegisterValue encodes a file's entry, written by the run of
// generation gen.
func encodeRegisterValue(fp fingerprint, n *snapshot.Node, gen uint64) []byte {
	buf := make([]byte, 0, 56+len(n.Content)*37)
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
	return binary.AppendUvarint(buf, gen)
}

// decodeRegisterValue returns the stored fingerprint, slices, extended
// attributes and generation; ok is false for anything malformed (treated
// as "not in the register"). n.Xattrs is non-nil when the value holds them
// (an empty slice for none); values written before they were stored leave
// it nil. Values written before generations have generation 0, which no
// run trusts.
func decodeRegisterValue(v []byte, n *snapshot.Node) (fp fingerprint, gen uint64, ok bool) {
	var vals [6]uint64
	for i := range vals {
		x, k := binary.Uvarint(v)
		if k <= 0 {
			return fp, 0, false
		}
		vals[i] = x
		v = v[k:]
	}
	fp = fingerprint{size: vals[0], mtime: vals[1], ctime: vals[2], inode: vals[3], mode: uint32(vals[4])}
	count := vals[5]
	if count > uint64(len(v)/33) {
		return fp, 0, false
	}
	n.Content = make([]blobID, count)
	n.Sizes = make([]uint32, count)
	var total uint64
	for i := range n.Content {
		if len(v) < 33 {
			return fp, 0, false
		}
		copy(n.Content[i][:], v[:32])
		x, k := binary.Uvarint(v[32:])
		if k <= 0 {
			return fp, 0, false
		}
		n.Sizes[i] = uint32(x)
		total += x
		v = v[32+k:]
	}
	if total != fp.size {
		return fp, 0, false
	}
	n.Xattrs = nil
	if len(v) == 0 {
		return fp, 0, true
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
		return fp, 0, false
	}
	v = v[k:]
	n.Xattrs = make([]snapshot.Xattr, 0, nx)
	for range nx {
		name, ok1 := field()
		val, ok2 := field()
		if !ok1 || !ok2 {
			return fp, 0, false
		}
		n.Xattrs = append(n.Xattrs, snapshot.Xattr{Name: string(name), Value: bytes.Clone(val)})
	}
	if len(v) == 0 {
		return fp, 0, true
	}
	gen, k = binary.Uvarint(v)
	return fp, gen, k == len(v)
}

// encodeDirValue encodes a folder's entry: the ID of its tree, stored or
// found stored by the run of generation gen.
func encodeDirValue(tree blobID, gen uint64) []byte {
	return binary.AppendUvarint(append([]byte(nil), tree[:]...), gen)
}

// decodeDirValue returns what encodeDirValue encoded; ok is false for a
// missing or malformed value.
func decodeDirValue(v []byte) (gen uint64, tree blobID, ok bool) {
	if len(v) <= len(tree) {
		return 0, tree, false
	}
	copy(tree[:], v)
	gen, k := binary.Uvarint(v[len(tree):])
	return gen, tree, k == len(v)-len(tree)
}
