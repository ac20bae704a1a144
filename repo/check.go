package repo

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/index"
	"github.com/cabinetbackup/cabinet/repo/pack"
)

// Severity grades a check finding.
type Severity int

const (
	// Info findings need no action (left-overs of interrupted backups).
	Info Severity = iota
	// Error findings mean data is missing or damaged.
	Error
)

// Problem is one finding of a check.
type Problem struct {
	Severity Severity
	Object   string    // the repository object concerned
	Blobs    []blob.ID // blobs lost or damaged by it, if known
	Message  string
}

// Cabinets lists every cabinet stored under data/ with its size.
func (r *Repository) Cabinets(ctx context.Context) (map[blob.ID]int64, error) {
	out := map[blob.ID]int64{}
	dirs, err := r.be.ListDirs(ctx, DataDir)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		err := r.be.List(ctx, DataDir+"/"+d, func(fi backend.FileInfo) error {
			id, err := blob.ParseID(fi.Name)
			if err != nil {
				return nil
			}
			out[id] = fi.Size
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CheckStructure loads every index file and compares the index with the
// stored cabinets. Each finding goes to report. From then on r reads tree
// cabinets from the repository, not the local cache, as it reads the index
// files here: a good cached copy must not hide a damaged file in the
// repository (one that a restore on another machine would meet).
func (r *Repository) CheckStructure(ctx context.Context, report func(Problem)) error {
	r.uncachedTrees.Store(true)
	r.trees.clear()
	var names []string
	if err := r.be.List(ctx, IndexDir, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		return err
	}
	sort.Strings(names)
	// The cabinets first, so that only the entries of missing ones are
	// kept with their whole IDs (the index keeps Keys) while every index
	// file is read: keeping all of them cost ~45 bytes a blob.
	have, err := r.Cabinets(ctx)
	if err != nil {
		return err
	}
	need := map[blob.ID]int64{}
	var lost []index.PackEntries // of cabinets not stored
	indexDamaged := false
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The repository's copy, not the cache's: a good cached copy must
		// not hide a damaged file in the repository.
		packs, err := r.readIndexFile(ctx, n, false)
		if err != nil {
			report(Problem{Severity: Error, Object: IndexDir + "/" + n, Message: err.Error() + "; the cabinets it lists are no longer found by restore: 'cabinet repair index' indexes them again from their own headers ('cabinet backup --force' stores the files again)"})
			indexDamaged = true
			continue
		}
		r.idx.Add(packs...)
		for _, p := range packs {
			if _, ok := have[p.Pack]; !ok {
				lost = append(lost, p)
			}
		}
		r.loadMu.Lock()
		r.loadedIndex[n] = true
		r.loadMu.Unlock()
		for _, p := range packs {
			for _, e := range p.Entries {
				if end := int64(e.Offset) + int64(e.Length); end > need[p.Pack] {
					need[p.Pack] = end
				}
			}
		}
	}
	r.idx.Compact()
	byPack := map[blob.ID][]blob.ID{}
	for _, p := range lost {
		byPack[p.Pack] = append(byPack[p.Pack], r.keptIn(p)...)
	}
	for p, minSize := range need {
		size, ok := have[p]
		switch {
		case !ok:
			report(Problem{Severity: Error, Object: PackName(p), Blobs: byPack[p], Message: fmt.Sprintf("cabinet %s is missing: %d blobs are lost", p, len(byPack[p]))})
		case size < minSize+int64(pack.TrailerSize()):
			// The blobs before the cut still read (by the index's offsets).
			var cut []blob.ID
			for _, id := range r.blobsIn(ctx, p) {
				if loc, ok := r.idx.Lookup(id); ok && int64(loc.Offset)+int64(loc.Length) > size {
					cut = append(cut, id)
				}
			}
			msg := fmt.Sprintf("cabinet %s is %d bytes, shorter than its index says (truncated)", p, size)
			if len(cut) > 0 {
				msg += fmt.Sprintf(": %d blobs are lost", len(cut))
			}
			report(Problem{Severity: Error, Object: PackName(p), Blobs: cut, Message: msg})
		}
	}
	unindexed := "cabinet not in any index: a backup still running or an interrupted one left it; harmless, and its slices are stored again when needed"
	if indexDamaged {
		unindexed = "cabinet not in any readable index: a damaged index file (above) may have listed it, or an interrupted backup left it; its slices are stored again when needed"
	}
	for p := range have {
		if _, ok := need[p]; !ok {
			report(Problem{Severity: Info, Object: PackName(p), Message: unindexed})
		}
	}
	if tf, ok := r.be.(interface{ TempFiles() ([]string, error) }); ok {
		tmp, _ := tf.TempFiles()
		for _, t := range tmp {
			report(Problem{Severity: Info, Object: t, Message: "temporary file of a write still running or an interrupted one; harmless"})
		}
	}
	return nil
}

// ReadCabinet reads a whole cabinet, checks its name, header and every
// blob, and returns the IDs of blobs that are damaged (all of them when the
// cabinet as a whole is unreadable).
func (r *Repository) ReadCabinet(ctx context.Context, id blob.ID) (damaged []blob.ID, err error) {
	data, err := r.be.Get(ctx, PackName(id), 0, 0)
	if err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return r.blobsIn(ctx, id), fmt.Errorf("cabinet %s is missing", id)
		}
		return r.blobsIn(ctx, id), err
	}
	var problems []string
	if r.cabinetName(data) != id {
		problems = append(problems, "content does not match its name")
	}
	var entries []pack.Entry
	if len(data) >= pack.TrailerSize() {
		off, hl, herr := pack.HeaderLocation(data[len(data)-pack.TrailerSize():], int64(len(data)))
		if herr == nil {
			entries, herr = pack.ParseHeader(r.key, data[off:off+int64(hl)], off)
		}
		if herr == nil {
			herr = r.bundlesAllowed(index.PackEntries{Pack: id, Entries: entries})
		}
		if herr != nil {
			problems = append(problems, "header: "+herr.Error())
		}
	} else {
		problems = append(problems, "too short to be a cabinet")
	}
	if entries == nil {
		// Without a header, fall back to the index's view of the cabinet.
		for _, p := range r.indexFilesOn(ctx, id) {
			entries = append(entries, p.Entries...)
		}
	}
	// The bundle being read: a bundle's blobs have consecutive entries, so
	// one is kept decoded at a time, not all of a cabinet's (16 MiB of
	// compressible small files sealed are hundreds of MiB decoded).
	var bundle struct {
		open   bool
		offset uint32
		b      *decodedBundle
		err    error
	}
	var member []byte // each blob is only verified: one buffer for all
	for _, e := range entries {
		loc, ok := r.idx.Lookup(e.ID)
		if !ok || loc.Pack != id {
			continue // a duplicate kept elsewhere, or not indexed: nothing depends on it here
		}
		end := int64(loc.Offset) + int64(loc.Length)
		if end > int64(len(data)) {
			damaged = append(damaged, e.ID)
			continue
		}
		// A copy: the blob is decrypted in place.
		buf := func() []byte { return append([]byte(nil), data[loc.Offset:end]...) }
		if loc.Bundled {
			// Each bundle is opened once for all of its blobs.
			if !bundle.open || bundle.offset != loc.Offset {
				if bundle.b != nil {
					r.bundles.release(bundle.b.content)
				}
				bundle.b, bundle.err = r.openBundle(loc, buf())
				bundle.open, bundle.offset = true, loc.Offset
			}
			if bundle.err != nil {
				damaged = append(damaged, e.ID)
			} else if m, err := bundledBlob(r.key, bundle.b, e.ID, loc, member, true); err != nil {
				damaged = append(damaged, e.ID)
			} else {
				member = m
			}
			continue
		}
		if _, err := r.VerifyBlob(e.ID, loc, buf(), nil); err != nil {
			damaged = append(damaged, e.ID)
		}
	}
	if bundle.b != nil {
		r.bundles.release(bundle.b.content)
	}
	if len(problems) > 0 || len(damaged) > 0 {
		msg := fmt.Sprintf("cabinet %s is damaged", id)
		for _, p := range problems {
			msg += "; " + p
		}
		if len(damaged) > 0 {
			msg += fmt.Sprintf("; %d blobs fail authentication", len(damaged))
		}
		return damaged, errors.New(msg)
	}
	return nil, nil
}

// blobsIn returns the blobs the index finds in cabinet p.
func (r *Repository) blobsIn(ctx context.Context, p blob.ID) []blob.ID {
	var out []blob.ID
	for _, pe := range r.indexFilesOn(ctx, p) {
		out = append(out, r.keptIn(pe)...)
	}
	return out
}

// keptIn returns the blobs of p whose indexed location is p: a blob kept
// in another cabinet too is found there.
func (r *Repository) keptIn(p index.PackEntries) []blob.ID {
	var out []blob.ID
	for _, e := range p.Entries {
		if loc, ok := r.idx.Lookup(e.ID); ok && loc.Pack == p.Pack {
			out = append(out, e.ID)
		}
	}
	return out
}

// indexFilesOn returns what the loaded index files list of cabinet p, read
// again for the blobs' whole IDs (the in-memory index keeps their Keys).
// Only damaged or missing cabinets need it; an index file that cannot be
// read again is skipped (check reports it already).
func (r *Repository) indexFilesOn(ctx context.Context, p blob.ID) []index.PackEntries {
	r.loadMu.Lock()
	names := make([]string, 0, len(r.loadedIndex))
	for n := range r.loadedIndex {
		names = append(names, n)
	}
	r.loadMu.Unlock()
	sort.Strings(names)
	var out []index.PackEntries
	for _, n := range names {
		packs, err := r.readIndexFile(ctx, n, false)
		if err != nil {
			continue
		}
		for _, pe := range packs {
			if pe.Pack == p {
				out = append(out, pe)
			}
		}
	}
	return out
}
