package repo

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress"
	"golang.org/x/sync/errgroup"

	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/repo/index"
	"github.com/cabinetbackup/cabinet/repo/pack"
)

// Cabinet target sizes. Data cabinets are tens of MiB, sized for object
// storage requests; tree cabinets are smaller because readers cache them whole.
const (
	DataCabinetSize = 16 << 20
	TreeCabinetSize = 4 << 20
	// indexEvery cabinets an index file is written, so an interrupted backup
	// leaves most of its uploaded cabinets indexed and the next run reuses them.
	indexEvery = 8
)

// Plaintext blob encodings: the first byte says how the rest is stored.
const (
	encodingRaw  = 0
	encodingZstd = 1
)

// ErrBlobNotFound is wrapped when a blob is not in the index.
var ErrBlobNotFound = errors.New("blob not in the index")

// WriteStats count what a Write added to the repository.
type WriteStats struct {
	Blobs      int64 // new blobs stored
	RawBytes   int64 // their plaintext size
	Stored     int64 // bytes written in cabinets
	Cabinets   int
	IndexFiles int
}

// Writer stores blobs during a Repository.Write call. Safe for concurrent use.
type Writer struct {
	r       *Repository
	ctx     context.Context
	uploads *errgroup.Group

	mu sync.Mutex
	// idle are the open cabinets of each blob type that no SaveBlob is
	// adding to. A SaveBlob takes one (or opens one), adds its blob without
	// holding mu, and gives it back: copying, hashing and writing a sealed
	// blob ran under mu before, and a backup of random data (nothing to
	// compress) kept one core of two busy. There are at most as many open
	// cabinets of a type as SaveBlob calls running at once.
	idle     [2][]*openCabinet
	spare    [2][][]byte // cabinet buffers to reuse
	inflight map[blob.ID]struct{}
	pending  []index.PackEntries
	stats    WriteStats
	bufs     chan []byte // plaintext and sealed buffers, a bounded free list
}

// Write runs fn with a Writer and then flushes: open cabinets are written,
// then index files for every cabinet. The caller writes its session object
// after Write returns without error. If fn fails, what was stored so far is
// still flushed (so the next run reuses it) and fn's error is returned.
func (r *Repository) Write(ctx context.Context, fn func(ctx context.Context, w *Writer) error) (WriteStats, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.connections())
	// A cabinet is written to the end even once ctx is cancelled (Ctrl-C),
	// and so is its index by flush: one dropped half way left its temporary
	// file behind and its blobs in no index.
	w := &Writer{r: r, ctx: context.WithoutCancel(ctx), uploads: g, inflight: map[blob.ID]struct{}{}}
	w.bufs = make(chan []byte, 4*runtime.GOMAXPROCS(0))
	ferr := fn(gctx, w)
	flushCtx := ctx
	if ferr != nil {
		flushCtx = context.WithoutCancel(ctx)
	}
	err := w.flush(flushCtx)
	r.idx.Compact()
	if ferr != nil {
		return w.stats, ferr
	}
	return w.stats, err
}

// SaveBlob stores data as a blob of type t unless the repository already
// has it. It returns the blob's ID and whether it was new.
func (w *Writer) SaveBlob(ctx context.Context, t blob.Type, data []byte) (blob.ID, bool, error) {
	return w.SaveBlobID(ctx, t, w.r.key.ID(data), data)
}

// SaveBlobID is SaveBlob for a caller that has hashed data already: id
// must be the repository key's ID of data (Key().ID), or the repository
// holds a blob under a name that is not its content's.
func (w *Writer) SaveBlobID(ctx context.Context, t blob.Type, id blob.ID, data []byte) (blob.ID, bool, error) {
	if w.r.idx.Has(id) {
		return id, false, nil
	}
	w.mu.Lock()
	if _, busy := w.inflight[id]; busy {
		w.mu.Unlock()
		return id, false, nil
	}
	w.inflight[id] = struct{}{}
	w.mu.Unlock()

	plain := w.r.encodeBlob(w.getBuf(len(data)+1), data)
	ad := blobAD(t, id)
	sealed := w.r.key.SealBound(w.getBuf(len(plain)+crypto.Overhead), plain, ad[:])
	w.putBuf(plain)

	w.mu.Lock()
	var p *openCabinet
	if n := len(w.idle[t]); n > 0 {
		// The most recently used: while one SaveBlob runs at a time, a
		// large file's slices stay together in one cabinet.
		p, w.idle[t] = w.idle[t][n-1], w.idle[t][:n-1]
	} else {
		var err error
		if p, err = w.newPacker(t); err != nil {
			delete(w.inflight, id) // not stored: a later save must not skip it
			w.mu.Unlock()
			return id, true, err
		}
	}
	w.mu.Unlock()
	_, err := p.pw.Add(t, id, sealed, len(data))
	w.mu.Lock()
	if err != nil {
		w.idle[t] = append(w.idle[t], p) // flush fails on it and drops its file
		delete(w.inflight, id)
		w.mu.Unlock()
		return id, true, fmt.Errorf("write cabinet: %w", err)
	}
	w.stats.Blobs++
	w.stats.RawBytes += int64(len(data))
	var full *openCabinet
	limit := DataCabinetSize
	if t == blob.Tree {
		limit = TreeCabinetSize
	}
	if p.pw.Size() >= limit {
		full = p
	} else {
		w.idle[t] = append(w.idle[t], p)
	}
	w.mu.Unlock()
	w.putBuf(sealed)

	if full != nil {
		if err := w.upload(ctx, t, full); err != nil {
			return id, true, err
		}
	}
	return id, true, nil
}

// openCabinet is a cabinet being filled: in memory, or streamed to a
// temporary file when the backend can.
type openCabinet struct {
	pw *pack.Writer
	tf backend.TempFile
	bw *bufio.Writer
}

// getBuf returns an empty buffer with room for n bytes.
func (w *Writer) getBuf(n int) []byte {
	select {
	case b := <-w.bufs:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, max(n, 1<<20+64<<10))
}

// putBuf keeps a buffer for reuse unless it grew beyond twice the usual
// size (a rare large slice) or enough are kept.
func (w *Writer) putBuf(b []byte) {
	if cap(b) > 2<<20+128<<10 {
		return
	}
	select {
	case w.bufs <- b[:0]:
	default:
	}
}

// encodeBlob appends the plaintext encoding of data: zstd when it shrinks
// the data by more than 1/32, raw otherwise. Large slices whose first and
// last 32 KiB look random (order-0 entropy above 7.8 bits a byte: random,
// encrypted or already compressed data) skip zstd: compressing them only
// burns CPU (the benchmark's 1 GiB random file was a third of the zstd time).
func (r *Repository) encodeBlob(dst, data []byte) []byte {
	dst = append(dst, encodingZstd)
	if len(data) >= 64<<10 && looksRandom(data[:32<<10]) && looksRandom(data[len(data)-32<<10:]) {
		dst = append(dst[:0], encodingRaw)
		return append(dst, data...)
	}
	if len(data) >= 64 {
		dst = r.enc.EncodeAll(data, dst)
		if len(dst)-1 < len(data)-len(data)/32 {
			return dst
		}
	}
	dst = append(dst[:0], encodingRaw)
	return append(dst, data...)
}

func looksRandom(sample []byte) bool {
	return compress.ShannonEntropyBits(sample) > len(sample)*78/10
}

// upload writes a full cabinet in the background (at most Connections at once).
func (w *Writer) upload(ctx context.Context, t blob.Type, p *openCabinet) error {
	if err := ctx.Err(); err != nil {
		w.mu.Lock()
		w.idle[t] = append(w.idle[t], p) // flush writes it
		w.mu.Unlock()
		return err
	}
	w.uploads.Go(func() error { return w.writeCabinet(w.ctx, t, p) })
	return nil
}

// newPacker starts a cabinet. Data cabinets stream to a temporary file
// when the backend supports it, so they cost no memory; tree cabinets stay
// in memory because they are also cached whole. Called with w.mu held.
func (w *Writer) newPacker(t blob.Type) (*openCabinet, error) {
	if tb, ok := w.r.be.(backend.TempFileBackend); ok && t == blob.Data {
		tf, err := tb.TempFile(w.ctx, DataDir)
		if err != nil {
			return nil, err
		}
		bw := bufio.NewWriterSize(tf, 256<<10)
		return &openCabinet{pw: pack.NewStreamWriter(bw, w.r.cabinetHash), tf: tf, bw: bw}, nil
	}
	if n := len(w.spare[t]); n > 0 {
		buf := w.spare[t][n-1]
		w.spare[t] = w.spare[t][:n-1]
		return &openCabinet{pw: pack.NewWriterBuffer(buf, w.r.cabinetHash)}, nil
	}
	if t == blob.Tree {
		// Trees are small; a larger one grows the buffer.
		return &openCabinet{pw: pack.NewWriter(TreeCabinetSize+256<<10, w.r.cabinetHash)}, nil
	}
	// Room for the last blob (up to the chunker's maximum) and the header.
	return &openCabinet{pw: pack.NewWriter(DataCabinetSize+w.r.chunker.Sizes().Max+256<<10, w.r.cabinetHash)}, nil
}

func (w *Writer) writeCabinet(ctx context.Context, t blob.Type, p *openCabinet) error {
	data, name, err := p.pw.Finish(w.r.key)
	if err == nil && p.bw != nil {
		err = p.bw.Flush()
	}
	if err != nil {
		if p.tf != nil {
			p.tf.Abort()
		}
		return fmt.Errorf("write cabinet: %w", err)
	}
	if p.tf != nil {
		err = p.tf.Commit(ctx, PackName(name))
	} else {
		err = w.r.be.Put(ctx, PackName(name), data)
	}
	if err != nil {
		return fmt.Errorf("write cabinet %s: %w", name.Short(), err)
	}
	if t == blob.Tree {
		w.r.cache.put(DataDir, name.String(), data)
	}
	if data != nil {
		defer func() {
			w.mu.Lock()
			if len(w.spare[t]) < 1 {
				w.spare[t] = append(w.spare[t], data[:0])
			}
			w.mu.Unlock()
		}()
	}
	size := int64(p.pw.Size())
	pe := index.PackEntries{Pack: name, Entries: p.pw.Entries()}
	w.r.idx.Add(pe)
	w.mu.Lock()
	for _, e := range pe.Entries {
		delete(w.inflight, e.ID)
	}
	w.pending = append(w.pending, pe)
	w.stats.Cabinets++
	w.stats.Stored += size
	var batch []index.PackEntries
	if len(w.pending) >= indexEvery {
		batch, w.pending = w.pending, nil
	}
	w.mu.Unlock()
	if batch != nil {
		if err := w.writeIndex(ctx, batch); err != nil {
			return err
		}
		// Move the new entries into the sorted array: 32 bytes a blob
		// instead of a map entry's ~140.
		w.r.idx.Compact()
	}
	return nil
}

func (w *Writer) writeIndex(ctx context.Context, packs []index.PackEntries) error {
	sealed := w.r.key.Seal(nil, index.Encode(packs))
	sum := sha256.Sum256(sealed)
	name := fmt.Sprintf("%x", sum)
	if err := w.r.be.Put(ctx, IndexDir+"/"+name, sealed); err != nil {
		return fmt.Errorf("write index file: %w", err)
	}
	w.r.cache.put(IndexDir, name, sealed)
	w.r.loadMu.Lock()
	w.r.loadedIndex[name] = true
	w.r.loadMu.Unlock()
	w.mu.Lock()
	w.stats.IndexFiles++
	w.stats.Stored += int64(len(sealed))
	w.mu.Unlock()
	return nil
}

// Flush writes the open cabinets and index files now (Write does this on return).
func (w *Writer) flush(ctx context.Context) error {
	w.mu.Lock()
	open := w.idle
	w.idle = [2][]*openCabinet{}
	w.mu.Unlock()
	for t, ps := range open {
		for _, p := range ps {
			if p.pw.Count() == 0 && p.tf != nil {
				p.tf.Abort()
			}
			if p.pw.Count() > 0 {
				pp, tt := p, blob.Type(t)
				w.uploads.Go(func() error { return w.writeCabinet(ctx, tt, pp) })
			}
		}
	}
	uerr := w.uploads.Wait()
	w.mu.Lock()
	batch := w.pending
	w.pending = nil
	w.mu.Unlock()
	if len(batch) > 0 {
		// The cabinets written are indexed even when another failed.
		if err := w.writeIndex(ctx, batch); err != nil && uerr == nil {
			uerr = err
		}
	}
	return uerr
}

// HasBlob reports whether the repository (or this writer) already has id.
func (w *Writer) HasBlob(id blob.ID) bool {
	if w.r.idx.Has(id) {
		return true
	}
	w.mu.Lock()
	_, ok := w.inflight[id]
	w.mu.Unlock()
	return ok
}

// WillLoad tells the backend that the data blobs ids are about to be
// loaded, in that order, when it can fetch ahead (backend.ReadAdvisor):
// each run of them that lies together in one cabinet is asked for at once.
// A restore worker reading a large file's slices one by one waited on each
// read in turn. Runs are gathered per cabinet, so a file whose slices
// alternate between cabinets (written by concurrent SaveBlobs) still asks
// for one range in each.
func (r *Repository) WillLoad(ctx context.Context, ids []blob.ID) {
	ra, ok := r.be.(backend.ReadAdvisor)
	if !ok {
		return
	}
	type run struct {
		pack       blob.ID
		start, end int64
	}
	var runs []run // the open run of each cabinet seen, in order of appearance
	for _, id := range ids {
		loc, ok := r.idx.Lookup(id)
		if !ok || loc.Type != blob.Data {
			continue
		}
		off, n := int64(loc.Offset), int64(loc.Length)
		i := slices.IndexFunc(runs, func(r run) bool { return r.pack == loc.Pack })
		switch {
		case i < 0:
			runs = append(runs, run{pack: loc.Pack, start: off, end: off + n})
		case off < runs[i].start || off > runs[i].end+willLoadGap:
			ra.WillRead(ctx, PackName(runs[i].pack), runs[i].start, runs[i].end-runs[i].start)
			runs[i].start, runs[i].end = off, off+n
		default:
			runs[i].end = max(runs[i].end, off+n)
		}
	}
	for _, r := range runs {
		ra.WillRead(ctx, PackName(r.pack), r.start, r.end-r.start)
	}
}

// willLoadGap is how far apart two blobs of a cabinet may lie and still be
// asked for in one range.
const willLoadGap = 256 << 10

// LoadBlob reads, authenticates and decodes blob id, appending its
// plaintext to dst[:0]. A blob whose bytes fail authentication or whose
// seal does not bind it to id gives an error wrapping ErrDamaged that
// names the blob and its cabinet.
func (r *Repository) LoadBlob(ctx context.Context, id blob.ID, dst []byte) ([]byte, error) {
	loc, ok := r.idx.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrBlobNotFound, id)
	}
	sealed, err := r.readCabinetRange(ctx, loc)
	if err != nil {
		return nil, err
	}
	out, err := r.DecodeBlob(id, loc, sealed, dst)
	if loc.Type == blob.Data {
		r.putSealed(sealed) // decoded into dst: the buffer is free again
	}
	if err != nil && loc.Type == blob.Tree && r.dropTreeCabinet(loc.Pack) {
		// The local copy of a tree cabinet may be what is damaged, not the
		// repository: drop it and read the repository's (verified) copy.
		if sealed, err = r.readCabinetRange(ctx, loc); err != nil {
			return nil, err
		}
		return r.DecodeBlob(id, loc, sealed, dst)
	}
	return out, err
}

// dropTreeCabinet forgets the memory and cache copies of a tree cabinet;
// it reports whether there was a local copy to blame.
func (r *Repository) dropTreeCabinet(id blob.ID) bool {
	had := r.trees.get(id) != nil
	r.trees.drop(id)
	return r.cache.remove(DataDir, id.String()) || had
}

// treeCabinet returns a whole tree cabinet: from memory, else from the local
// cache, else from the repository (then cached). Listing a session reads
// thousands of trees in a few cabinets: one read per cabinet instead of one
// per tree (the mount's cold find was bound by those reads).
func (r *Repository) treeCabinet(ctx context.Context, id blob.ID) ([]byte, error) {
	if data := r.trees.get(id); data != nil {
		return data, nil
	}
	if r.uncachedTrees.Load() {
		// Checking: the repository's copy must be read.
	} else if data := r.cache.get(DataDir, id.String()); data != nil && r.cabinetName(data) == id {
		r.trees.put(id, data)
		return data, nil
	}
	data, err := r.be.Get(ctx, PackName(id), 0, 0)
	if err != nil {
		return nil, fmt.Errorf("read cabinet %s: %w", id.Short(), err)
	}
	if r.cabinetName(data) != id {
		return nil, fmt.Errorf("%w: cabinet %s: content does not match its name (damaged or truncated)", ErrDamaged, id)
	}
	r.cache.put(DataDir, id.String(), data)
	r.trees.put(id, data)
	return data, nil
}

// cabinetMemo keeps whole tree cabinets in memory within a byte budget.
type cabinetMemo struct {
	mu     sync.Mutex
	data   map[blob.ID][]byte
	size   int
	budget int
}

func (m *cabinetMemo) get(id blob.ID) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data[id]
}

func (m *cabinetMemo) put(id blob.ID, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(data) > m.budget {
		return
	}
	if m.data == nil {
		m.data = map[blob.ID][]byte{}
	}
	for k, v := range m.data { // evict any until it fits
		if m.size+len(data) <= m.budget {
			break
		}
		delete(m.data, k)
		m.size -= len(v)
	}
	if _, ok := m.data[id]; !ok {
		m.data[id] = data
		m.size += len(data)
	}
}

// clear forgets every cabinet.
func (m *cabinetMemo) clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data, m.size = nil, 0
}

func (m *cabinetMemo) drop(id blob.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.data[id]; ok {
		delete(m.data, id)
		m.size -= len(v)
	}
}

// getSealed returns a buffer for the sealed bytes of a blob: restores and
// mounts read gigabytes blob by blob, and fresh buffers cost zeroing and
// garbage collection for every one.
func (r *Repository) getSealed(loc index.Location) []byte {
	if loc.Type == blob.Data {
		select {
		case b := <-r.sealedBufs:
			if cap(b) >= int(loc.Length) {
				return b[:loc.Length]
			}
		default:
		}
	}
	return make([]byte, loc.Length)
}

func (r *Repository) putSealed(b []byte) {
	if cap(b) > 2<<20+128<<10 {
		return // a rare large slice: let it go
	}
	select {
	case r.sealedBufs <- b:
	default:
	}
}

// blobAD is the associated data a blob is sealed with: its type byte and
// ID. A blob that opens is therefore the one its ID and type name (sealed
// by a key holder for exactly that ID), so reads need not hash it again.
func blobAD(t blob.Type, id blob.ID) [1 + len(blob.ID{})]byte {
	var ad [1 + len(blob.ID{})]byte
	ad[0] = byte(t)
	copy(ad[1:], id[:])
	return ad
}

// DecodeBlob opens and decodes a sealed blob read from loc. The seal binds
// the blob's type and ID, so an authenticated blob is the one asked for;
// VerifyBlob also re-hashes the plaintext.
func (r *Repository) DecodeBlob(id blob.ID, loc index.Location, sealed, dst []byte) ([]byte, error) {
	return r.decodeBlob(id, loc, sealed, dst, false)
}

// VerifyBlob is DecodeBlob that also checks the plaintext's keyed hash
// against id (check --read-data): it catches content sealed under a wrong
// ID by a faulty writer, which the seal alone cannot.
func (r *Repository) VerifyBlob(id blob.ID, loc index.Location, sealed, dst []byte) ([]byte, error) {
	return r.decodeBlob(id, loc, sealed, dst, true)
}

func (r *Repository) decodeBlob(id blob.ID, loc index.Location, sealed, dst []byte, rehash bool) ([]byte, error) {
	if len(sealed) < crypto.Overhead+1 { // an index entry too short for any sealed blob
		return nil, fmt.Errorf("%w: %s blob %s in cabinet %s: %d bytes, shorter than any sealed blob", ErrDamaged, loc.Type, id.Short(), loc.Pack, len(sealed))
	}
	ad := blobAD(loc.Type, id)
	plain, err := r.key.OpenBound(sealed[crypto.NonceSize:crypto.NonceSize], sealed, ad[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %s blob %s in cabinet %s: %v", ErrDamaged, loc.Type, id.Short(), loc.Pack, err)
	}
	if len(plain) == 0 {
		return nil, fmt.Errorf("%w: %s blob %s in cabinet %s is empty", ErrDamaged, loc.Type, id.Short(), loc.Pack)
	}
	switch plain[0] {
	case encodingRaw:
		dst = append(dst[:0], plain[1:]...)
	case encodingZstd:
		if dst == nil && loc.RawLength > 0 {
			dst = make([]byte, 0, loc.RawLength)
		}
		dst, err = r.dec.DecodeAll(plain[1:], dst[:0])
		if err != nil {
			return nil, fmt.Errorf("%w: %s blob %s in cabinet %s: decompress: %v", ErrDamaged, loc.Type, id.Short(), loc.Pack, err)
		}
	default:
		return nil, fmt.Errorf("%w: %s blob %s in cabinet %s: unknown encoding %d", ErrDamaged, loc.Type, id.Short(), loc.Pack, plain[0])
	}
	if uint32(len(dst)) != loc.RawLength || rehash && r.key.ID(dst) != id {
		return nil, fmt.Errorf("%w: %s blob %s in cabinet %s: content does not match its ID", ErrDamaged, loc.Type, id.Short(), loc.Pack)
	}
	return dst, nil
}

// readCabinetRange returns the sealed bytes of one blob. Tree cabinets are
// read whole into the local cache on first use.
func (r *Repository) readCabinetRange(ctx context.Context, loc index.Location) ([]byte, error) {
	name := PackName(loc.Pack)
	if loc.Type == blob.Tree {
		data, err := r.treeCabinet(ctx, loc.Pack)
		if err != nil {
			return nil, err
		}
		if int64(loc.Offset)+int64(loc.Length) > int64(len(data)) {
			return nil, fmt.Errorf("%w: cabinet %s is shorter than its index says", ErrDamaged, loc.Pack)
		}
		// A copy: the caller decrypts in place.
		return append([]byte(nil), data[loc.Offset:loc.Offset+loc.Length]...), nil
	}
	if ra, ok := r.be.(backend.ReaderAtBackend); ok {
		f, err := ra.OpenReaderAt(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("read cabinet %s: %w", loc.Pack.Short(), err)
		}
		buf := r.getSealed(loc)
		n, err := f.ReadAt(buf, int64(loc.Offset))
		if err == io.EOF && n == len(buf) {
			err = nil
		}
		if err == io.EOF {
			return nil, fmt.Errorf("%w: cabinet %s is shorter than its index says (truncated?)", ErrDamaged, loc.Pack)
		}
		if err != nil {
			return nil, fmt.Errorf("read cabinet %s: %w", loc.Pack.Short(), err)
		}
		return buf, nil
	}
	data, err := r.be.Get(ctx, name, int64(loc.Offset), int64(loc.Length))
	if err != nil {
		return nil, fmt.Errorf("read cabinet %s: %w", loc.Pack.Short(), err)
	}
	if len(data) != int(loc.Length) {
		return nil, fmt.Errorf("%w: cabinet %s is shorter than its index says (truncated?)", ErrDamaged, loc.Pack)
	}
	return data, nil
}
