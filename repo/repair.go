package repo

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/index"
	"github.com/cabinetbackup/cabinet/repo/pack"
)

// RebuildOptions tune RebuildIndex.
type RebuildOptions struct {
	// ReadData reads every cabinet whole and authenticates every blob in
	// it, as check --read-data does; a cabinet with a damaged blob is left
	// out of the index and its good blobs are stored again. Without it
	// only the headers of the cabinets some index file lists are read.
	ReadData bool
	// Progress, if set, is called after each cabinet is read.
	Progress func(RebuildProgress)
}

// RebuildProgress is how far RebuildIndex has read the cabinets.
type RebuildProgress struct {
	Cabinets, CabinetsTotal int
	Bytes, BytesTotal       int64 // sizes of the cabinets read so far and of all of them
}

// Reasons a cabinet is left out of a rebuilt index (LeftOut.Reason).
const (
	ReasonMissing          = "missing"           // an index file lists it, data/ does not hold it
	ReasonUnreadableHeader = "unreadable header" // truncated, or its header fails authentication
	ReasonDamagedBlobs     = "damaged blobs"     // read whole: a blob fails authentication, or its bytes do not match its name
)

// LeftOut is a cabinet RebuildIndex did not index.
type LeftOut struct {
	Cabinet string `json:"cabinet"` // its name, data/<xx>/<id>
	Reason  string `json:"reason"`  // one of the Reason constants
	Detail  string `json:"detail,omitempty"`
	// Blobs lost with it: listed by the old index files, not stored again
	// from its good bytes and kept in no other cabinet. Only the old
	// index knows what a cabinet held when its header does not read.
	Blobs int `json:"blobs_lost"`
	// Salvaged are its blobs that read and were stored again elsewhere.
	Salvaged int `json:"blobs_salvaged"`
	// Listed: an index file that reads listed it. While an index file is
	// damaged, one listed by none whose header reads is salvaged too: the
	// damaged file may have listed it.
	Listed bool `json:"listed"`
}

// RebuildResult says what RebuildIndex found and did.
type RebuildResult struct {
	Cabinets        int `json:"cabinets"`         // stored in data/
	CabinetsIndexed int `json:"cabinets_indexed"` // whose header read and whose blobs are in the new index
	CabinetsRead    int `json:"cabinets_read"`    // read whole: with ReadData, or listed by no index file
	Blobs           int `json:"blobs"`            // entries of the new index (salvaged blobs included)
	// BlobsLost counts the blobs the old index listed that are in no
	// cabinet any more (each is counted once, in its cabinet's LeftOut).
	BlobsLost         int       `json:"blobs_lost"`
	BlobsSalvaged     int       `json:"blobs_salvaged"`
	LeftOut           []LeftOut `json:"left_out"`
	DamagedIndexFiles int       `json:"damaged_index_files"` // old index files that did not read: their cabinets are indexed from their headers
	IndexFilesWritten int       `json:"index_files_written"`
	IndexFilesRemoved int       `json:"index_files_removed"`
	// Unchanged: the index files already listed exactly the blobs of the
	// cabinets that read, each once; nothing was written or removed.
	Unchanged bool `json:"unchanged"`
}

// rebuildIndexEntries bounds the entries of one rebuilt index file (~3 MB):
// a batch is held in memory until written, and LoadIndex reads several
// files at once, where one large file would be read by one core.
const rebuildIndexEntries = 1 << 16

// RebuildIndex replaces the index with one built from the cabinets stored
// in data/: each cabinet whose header reads contributes the blobs its
// header lists (bundled ones too); a missing cabinet, one whose header
// does not read and, with o.ReadData, one with a damaged blob contribute
// nothing. The good blobs of a cabinet an old index file lists but that
// is left out (the ones that read: of a truncated cabinet those before the
// cut, at the old index's offsets) are stored again in a new cabinet, so
// only what is damaged is lost. A cabinet no index file lists is read
// whole and indexed only if it is intact, so a damaged left-over is never
// taken in; while an index file is damaged, such a cabinet's good blobs
// are stored again too (the damaged file may have listed it). Cabinets are
// never deleted or changed.
//
// The new index files are written first (atomically, as every backup
// writes them), and only then are the index files listed at the start
// removed, never one written later (by a concurrent backup): a process
// killed at any moment leaves a consistent repository, with some blobs
// listed twice (FORMAT.md, "Index", allows that), and RebuildIndex run
// again completes the job. When the index already lists exactly the
// blobs of the cabinets that read, each once, nothing is written and
// Unchanged is set: a second run changes nothing.
//
// A blob left out is missing for restores; a backup of the files that
// used it stores it again under the same ID, which heals the older
// sessions that name it too. Removing index files makes each device's
// register doubt its entries (see docs/FORMAT.md, "Local state"), so the
// next backup checks unchanged files against the new index.
//
// r must not have loaded any index (LoadIndex): the rebuild fills r's
// in-memory index with the new one. A read error other than damage (an
// I/O error, ctx done) stops the rebuild before anything is removed.
func (r *Repository) RebuildIndex(ctx context.Context, o RebuildOptions) (RebuildResult, error) {
	var res RebuildResult
	r.loadMu.Lock()
	loaded := len(r.loadedIndex) + len(r.treeIndex) + len(r.skippedIndex)
	r.loadMu.Unlock()
	if loaded > 0 || r.idx.Len() > 0 {
		return res, errors.New("rebuild index: the repository's index is loaded already; open the repository again to rebuild it")
	}
	// Index files first, then cabinets: a cabinet an index file lists was
	// stored before the file was written, so every cabinet a listed index
	// file names is in the listing that follows (or is missing indeed).
	oldNames, err := r.ListIndexFiles(ctx)
	if err != nil {
		return res, err
	}
	slices.Sort(oldNames)
	sizes, err := r.Cabinets(ctx)
	if err != nil {
		return res, fmt.Errorf("list cabinets: %w", err)
	}
	cabinets := make([]blob.ID, 0, len(sizes))
	var total int64
	for id, size := range sizes {
		cabinets = append(cabinets, id)
		total += size
	}
	slices.SortFunc(cabinets, func(a, b blob.ID) int { return slices.Compare(a[:], b[:]) })
	res.Cabinets = len(cabinets)

	old, err := r.readOldIndex(ctx, oldNames, sizes)
	if err != nil {
		return res, err
	}
	res.DamagedIndexFiles = old.damagedFiles
	if len(sizes) == 0 && len(old.digest) > 0 {
		// Every cabinet missing is a data folder not there (not mounted,
		// not synced yet, moved) far more often than a loss: removing the
		// index files would drop the offsets a truncated cabinet's
		// salvage needs, and the backup advised next would store
		// everything again.
		return res, fmt.Errorf("rebuild index: %s/ holds no cabinet, but the index files list %d cabinets: is the repository's data folder missing, or its disk not mounted? Nothing was changed; if every cabinet is truly gone, remove the files in %s/ by hand",
			DataDir, len(old.digest), IndexDir)
	}
	rewrite := old.duplicates || old.damagedFiles > 0 || len(old.missing) > 0

	// Read every cabinet's header (whole cabinets where they are to be
	// verified): which read, and whether the index lists them as they are.
	var good []blob.ID
	leftOut := map[blob.ID]*LeftOut{}
	var lost []lostBlob // blobs of left-out cabinets the old index listed
	for p, ids := range old.missing {
		leftOut[p] = &LeftOut{Cabinet: PackName(p), Reason: ReasonMissing, Listed: true}
		for _, id := range ids {
			lost = append(lost, lostBlob{id, p})
		}
	}
	var salvage []blob.ID // left-out cabinets an old index file lists
	// While an index file is damaged, the left-out cabinets no index file
	// that reads lists, whose header reads (a damaged blob, or bytes that
	// do not match the name), with their header entries: the damaged file
	// may have listed one, and sessions may need its good blobs, the only
	// copy when the source is gone. They are stored again as those of a
	// listed cabinet are, and what did not read counts as lost. (The
	// damaged file is removed with the others: a second run finds none.)
	orphans := map[blob.ID][]pack.Entry{}
	var done int64
	for i, p := range cabinets {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		_, listed := old.digest[p]
		whole := o.ReadData || !listed
		var entries []pack.Entry
		var herr error
		if whole {
			res.CabinetsRead++
			var data []byte
			if data, err = r.be.Get(ctx, PackName(p), 0, 0); err != nil {
				return res, cabinetReadError(p, err)
			}
			entries, herr = r.headerOf(p, data)
			if herr == nil {
				var damaged []blob.ID
				damaged, err = r.readBlobs(p, data, entries, nil)
				if err != nil {
					return res, err
				}
				if len(damaged) > 0 {
					leftOut[p] = &LeftOut{Cabinet: PackName(p), Reason: ReasonDamagedBlobs, Detail: fmt.Sprintf("blobs that fail authentication: %d", len(damaged)), Listed: listed}
				} else if r.cabinetName(data) != p {
					leftOut[p] = &LeftOut{Cabinet: PackName(p), Reason: ReasonDamagedBlobs, Detail: "its bytes do not match its name", Listed: listed}
				}
				if leftOut[p] != nil && !listed && old.damagedFiles > 0 {
					orphans[p] = entries
				}
			}
		} else {
			entries, herr, err = r.readHeader(ctx, p, sizes[p])
			if err != nil {
				return res, err
			}
		}
		if herr != nil {
			leftOut[p] = &LeftOut{Cabinet: PackName(p), Reason: ReasonUnreadableHeader, Detail: herr.Error(), Listed: listed}
		}
		switch {
		case leftOut[p] == nil:
			good = append(good, p)
			if d, ok := old.digest[p]; !ok || d != entriesDigest(entries) {
				rewrite = true
			}
		case listed:
			// The old index promised its blobs: they are looked for
			// below, and the good ones stored again.
			rewrite = true
			salvage = append(salvage, p)
		default:
			// Listed by no index file that reads: a left-over of an
			// interrupted backup, say, or one a rebuild left out before;
			// or one a damaged index file listed (orphans, above).
		}
		done += sizes[p]
		if o.Progress != nil {
			o.Progress(RebuildProgress{Cabinets: i + 1, CabinetsTotal: len(cabinets), Bytes: done, BytesTotal: total})
		}
	}
	res.LeftOut = make([]LeftOut, 0, len(leftOut))
	if !rewrite {
		res.Unchanged = true
		res.CabinetsIndexed = len(good)
		res.Blobs = old.entries
		for _, l := range leftOut {
			res.LeftOut = append(res.LeftOut, *l)
		}
		slices.SortFunc(res.LeftOut, func(a, b LeftOut) int { return cmp.Compare(a.Cabinet, b.Cabinet) })
		return res, nil
	}

	promised := old.entriesOf(ctx, r, salvage)
	stats, err := r.Write(ctx, func(ctx context.Context, w *Writer) error {
		var batch []index.PackEntries
		n := 0
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if err := w.writeIndex(ctx, batch); err != nil {
				return err
			}
			r.idx.Add(batch...)
			r.idx.Compact()
			batch, n = nil, 0
			return nil
		}
		for _, p := range good {
			// Read again: holding every header until the end would cost
			// ~50 bytes a blob; headers are a small part of a cabinet.
			entries, herr, err := r.readHeader(ctx, p, sizes[p])
			if err != nil {
				return err
			}
			if herr != nil {
				return fmt.Errorf("cabinet %s: header read before, not now: %w", p, herr)
			}
			batch = append(batch, index.PackEntries{Pack: p, Entries: entries})
			res.CabinetsIndexed++
			res.Blobs += len(entries)
			if n += len(entries); n >= rebuildIndexEntries {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		// Last, so that a blob kept in a good cabinet too is not stored
		// again (SaveBlobID skips what the index has).
		for _, p := range salvage {
			saved, err := r.salvageCabinet(ctx, w, p, promised[p])
			if err != nil {
				return err
			}
			leftOut[p].Salvaged = saved
			res.BlobsSalvaged += saved
		}
		for _, p := range slices.SortedFunc(maps.Keys(orphans), func(a, b blob.ID) int { return slices.Compare(a[:], b[:]) }) {
			saved, err := r.salvageCabinet(ctx, w, p, orphans[p])
			if err != nil {
				return err
			}
			leftOut[p].Salvaged = saved
			res.BlobsSalvaged += saved
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("write the rebuilt index: %w", err)
	}
	res.Blobs += int(stats.Blobs)
	res.IndexFilesWritten = stats.IndexFiles

	// What the old index listed in a cabinet left out and no cabinet holds now.
	for p, entries := range promised {
		for _, e := range entries {
			lost = append(lost, lostBlob{e.ID, p})
		}
	}
	for p, entries := range orphans {
		// A damaged index file may have listed what it held: what did not
		// read counts as lost rather than as a left-over's.
		for _, e := range entries {
			lost = append(lost, lostBlob{e.ID, p})
		}
	}
	seen := map[blob.ID]bool{}
	for _, l := range lost {
		if seen[l.id] || r.idx.Has(l.id) {
			continue
		}
		seen[l.id] = true
		leftOut[l.cabinet].Blobs++
		res.BlobsLost++
	}
	for _, l := range leftOut {
		res.LeftOut = append(res.LeftOut, *l)
	}
	slices.SortFunc(res.LeftOut, func(a, b LeftOut) int { return cmp.Compare(a.Cabinet, b.Cabinet) })

	// Only now, with every blob that reads in the new index files, may
	// the old ones go.
	for _, n := range oldNames {
		if err := r.be.Delete(ctx, IndexDir+"/"+n); err != nil {
			return res, fmt.Errorf("remove old index file %s (the new index is complete; run the rebuild again to remove it): %w", n, err)
		}
		r.cache.remove(IndexDir, n)
		res.IndexFilesRemoved++
	}
	return res, nil
}

// lostBlob is a blob the old index listed in a cabinet left out.
type lostBlob struct{ id, cabinet blob.ID }

// oldIndex is what RebuildIndex learns from the index files listed at its
// start: enough to tell whether they already match the cabinets, without
// holding their entries (a million blobs would take ~50 MB).
type oldIndex struct {
	names        []string
	digest       map[blob.ID][32]byte // per cabinet listed, its entries' digest
	entries      int                  // entries listed
	duplicates   bool                 // a cabinet listed twice (by a rebuild killed before it removed the old files, say)
	damagedFiles int
	missing      map[blob.ID][]blob.ID // blobs listed in cabinets not stored
}

func (r *Repository) readOldIndex(ctx context.Context, names []string, stored map[blob.ID]int64) (*oldIndex, error) {
	o := &oldIndex{names: names, digest: map[blob.ID][32]byte{}, missing: map[blob.ID][]blob.ID{}}
	for _, n := range names {
		// The repository's copy, not the cache's: a good cached copy of a
		// damaged file would keep its cabinets out of the rebuild.
		packs, err := r.readIndexFile(ctx, n, false)
		switch {
		case errors.Is(err, ErrDamaged):
			o.damagedFiles++
			continue
		case errors.Is(err, backend.ErrNotFound):
			continue // removed since the listing (by another rebuild); it goes either way
		case err != nil:
			return nil, fmt.Errorf("read index file %s: %w", n, err)
		}
		for _, p := range packs {
			if _, dup := o.digest[p.Pack]; dup {
				o.duplicates = true
			}
			o.digest[p.Pack] = entriesDigest(p.Entries)
			o.entries += len(p.Entries)
			if _, ok := stored[p.Pack]; !ok {
				for _, e := range p.Entries {
					o.missing[p.Pack] = append(o.missing[p.Pack], e.ID)
				}
			}
		}
	}
	return o, nil
}

// entriesOf reads the old index files again for what they list of the
// cabinets cabs: only cabinets left out need it. Files that no longer read
// are skipped.
func (o *oldIndex) entriesOf(ctx context.Context, r *Repository, cabs []blob.ID) map[blob.ID][]pack.Entry {
	out := map[blob.ID][]pack.Entry{}
	if len(cabs) == 0 {
		return out
	}
	for _, n := range o.names {
		packs, err := r.readIndexFile(ctx, n, false)
		if err != nil {
			continue
		}
		for _, pe := range packs {
			if slices.Contains(cabs, pe.Pack) {
				out[pe.Pack] = append(out[pe.Pack], pe.Entries...)
			}
		}
	}
	return out
}

// entriesDigest is a digest of a cabinet's entries as an index file
// encodes them, in their order (which is the header's).
func entriesDigest(entries []pack.Entry) [32]byte {
	return sha256.Sum256(index.Encode([]index.PackEntries{{Entries: entries}}))
}

// readHeader reads the header of cabinet p, size bytes long, with two
// ranged reads. herr says the header does not read (truncated, damaged);
// err is a failure to read at all, which stops the rebuild.
func (r *Repository) readHeader(ctx context.Context, p blob.ID, size int64) (entries []pack.Entry, herr, err error) {
	ts := int64(pack.TrailerSize())
	if size < ts {
		return nil, fmt.Errorf("%d bytes, too short to be a cabinet", size), nil
	}
	trailer, err := r.be.Get(ctx, PackName(p), size-ts, ts)
	if err != nil {
		return nil, nil, cabinetReadError(p, err)
	}
	off, hl, herr := pack.HeaderLocation(trailer, size)
	if herr != nil {
		return nil, herr, nil
	}
	sealed, err := r.be.Get(ctx, PackName(p), off, int64(hl))
	if err != nil {
		return nil, nil, cabinetReadError(p, err)
	}
	if entries, herr = pack.ParseHeader(r.key, sealed, off); herr == nil {
		herr = r.bundlesAllowed(index.PackEntries{Pack: p, Entries: entries})
	}
	return entries, herr, nil
}

// headerOf reads the header of cabinet p from its bytes.
func (r *Repository) headerOf(p blob.ID, data []byte) ([]pack.Entry, error) {
	if len(data) < pack.TrailerSize() {
		return nil, fmt.Errorf("%d bytes, too short to be a cabinet", len(data))
	}
	off, hl, err := pack.HeaderLocation(data[len(data)-pack.TrailerSize():], int64(len(data)))
	if err != nil {
		return nil, err
	}
	entries, err := pack.ParseHeader(r.key, data[off:off+int64(hl)], off)
	if err == nil {
		err = r.bundlesAllowed(index.PackEntries{Pack: p, Entries: entries})
	}
	return entries, err
}

// cabinetReadError wraps a failure to read cabinet p. A cabinet removed
// since it was listed is not damage a rebuild may act on either: it stops.
func cabinetReadError(p blob.ID, err error) error {
	return fmt.Errorf("read cabinet %s (nothing was changed; if its disk cannot read it, move it out of data/ and run the rebuild again): %w", p, err)
}

// readBlobs authenticates each blob of entries in data, the bytes of
// cabinet p, checking its plaintext's hash, and returns those that are
// damaged (or lie past the end of data). use, if set, gets each good
// blob's plaintext, valid until it returns; its error stops the reading.
func (r *Repository) readBlobs(p blob.ID, data []byte, entries []pack.Entry, use func(e *pack.Entry, plain []byte) error) (damaged []blob.ID, err error) {
	// The bundle being read: a bundle's blobs have consecutive entries, so
	// one is kept decoded at a time (as ReadCabinet does).
	var bundle struct {
		open   bool
		offset uint32
		b      *decodedBundle
		err    error
	}
	defer func() {
		if bundle.b != nil {
			r.bundles.release(bundle.b.content)
		}
	}()
	var sealed, plain []byte // one buffer each for all blobs
	for i := range entries {
		e := &entries[i]
		loc := index.Location{Pack: p, Type: e.Type, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength, Bundled: e.Bundled}
		end := int64(e.Offset) + int64(e.Length)
		if end > int64(len(data)) {
			damaged = append(damaged, e.ID)
			continue
		}
		// A copy: blobs are decrypted in place.
		sealed = append(sealed[:0], data[e.Offset:end]...)
		var berr error
		if e.Bundled {
			if !bundle.open || bundle.offset != e.Offset {
				if bundle.b != nil {
					r.bundles.release(bundle.b.content)
				}
				bundle.b, bundle.err = r.openBundle(loc, sealed)
				bundle.open, bundle.offset = true, e.Offset
			}
			berr = bundle.err
			if berr == nil {
				plain, berr = bundledBlob(r.key, bundle.b, e.ID, loc, plain, true)
			}
		} else {
			plain, berr = r.VerifyBlob(e.ID, loc, sealed, plain)
		}
		if berr != nil {
			damaged = append(damaged, e.ID)
			continue
		}
		if use != nil {
			if err := use(e, plain); err != nil {
				return damaged, err
			}
		}
	}
	return damaged, nil
}

// salvageCabinet stores again, through w, the blobs of entries (what the
// header or the old index says cabinet p holds) that read from p, and
// returns how many it stored. Blobs the index has already are skipped.
func (r *Repository) salvageCabinet(ctx context.Context, w *Writer, p blob.ID, entries []pack.Entry) (int, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	data, err := r.be.Get(ctx, PackName(p), 0, 0)
	if errors.Is(err, backend.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, cabinetReadError(p, err)
	}
	// Its own header, where it reads, over the old index's view.
	if h, herr := r.headerOf(p, data); herr == nil {
		entries = h
	}
	saved := 0
	_, err = r.readBlobs(p, data, entries, func(e *pack.Entry, plain []byte) error {
		_, isNew, err := w.SaveBlobID(ctx, e.Type, e.ID, plain)
		if isNew {
			saved++
		}
		return err
	})
	return saved, err
}
