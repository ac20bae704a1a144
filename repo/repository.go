package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/chunker"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/repo/index"
	"github.com/cabinetbackup/cabinet/repo/pack"
)

// Folder names inside a repository.
const (
	DataDir     = "data"
	IndexDir    = "index"
	SessionsDir = "sessions"
)

// Options tune an opened repository.
type Options struct {
	// CacheDir keeps copies of index files and tree cabinets; "" disables it.
	CacheDir string
	// Connections is the number of cabinets written at once (default 2).
	Connections int
	// Warn receives problems that do not stop the work, such as a damaged
	// index file that LoadIndex skips; nil ignores them.
	Warn func(error)
}

// Repository is an opened (unlocked) repository. Safe for concurrent use.
type Repository struct {
	be    backend.Backend
	key   *crypto.Key
	keyID string
	cfg   Config
	// cabinetHash names cabinets (cabinetHashOf the format version).
	cabinetHash pack.NameHash
	chunker     *chunker.Params
	idx         *index.Index
	opts        Options
	cache       *cache

	enc *zstd.Encoder
	dec *zstd.Decoder

	loadMu      sync.Mutex
	loadedIndex map[string]bool
	// treeIndex are the index files whose tree blobs only are loaded
	// (LoadTreeIndex).
	treeIndex map[string]bool
	// skippedIndex are the damaged index files LoadIndex skipped.
	skippedIndex map[string]bool

	sealedBufs chan []byte // free list of read buffers, see getSealed
	trees      cabinetMemo // whole tree cabinets, see treeCabinet
	bundles    bundleMemo  // recently decoded bundles, see LoadBlob
	misnamed   sync.Map    // tree cabinets whose bytes do not hash to their names: blob.ID -> true
	// uncachedTrees: tree cabinets are read from the repository, not the
	// local cache (set by CheckStructure).
	uncachedTrees atomic.Bool
}

// CreateOptions describe a new repository.
type CreateOptions struct {
	Key     KeyOptions
	Chunker chunker.Sizes // zero: chunker.DefaultSizes()
	Now     time.Time
	// formatVersion, when set, creates an older format this package still
	// reads and writes (tests of format 2).
	formatVersion int
}

// Create initialises a repository in be, protected by password. It refuses
// a location that already holds a config.
func Create(ctx context.Context, be backend.Backend, password []byte, co CreateOptions, o Options) (*Repository, error) {
	if _, err := be.Stat(ctx, ConfigFile); err == nil {
		return nil, fmt.Errorf("%s already holds a cabinet repository", be.Location())
	} else if !errors.Is(err, backend.ErrNotFound) {
		return nil, err
	}
	version := FormatVersion
	if co.formatVersion != 0 {
		version = co.formatVersion
	}
	key, err := crypto.NewMasterKey(idHashOf(version))
	if err != nil {
		return nil, err
	}
	if co.Chunker == (chunker.Sizes{}) {
		co.Chunker = chunker.DefaultSizes()
	}
	if co.Now.IsZero() {
		co.Now = time.Now()
	}
	if co.Key.Now.IsZero() {
		co.Key.Now = co.Now
	}
	// The key goes first: a config without a key would be unopenable, a key
	// without a config is still "no repository" and init can run again.
	kdata, kid, err := wrapKey(key, password, co.Key)
	if err != nil {
		return nil, err
	}
	if err := be.Put(ctx, KeysDir+"/"+kid, kdata); err != nil {
		return nil, err
	}
	cdata, cfg, err := newConfig(key, version, Params{Chunker: co.Chunker, Created: co.Now.UTC()})
	if err != nil {
		return nil, err
	}
	if err := be.Put(ctx, ConfigFile, cdata); err != nil {
		return nil, err
	}
	return newRepository(be, key, kid, cfg, o)
}

// Open reads the config, checks its version and unlocks the repository
// with password.
func Open(ctx context.Context, be backend.Backend, password []byte, o Options) (*Repository, error) {
	cfg, err := ReadConfig(ctx, be)
	if err != nil {
		return nil, err
	}
	key, kid, err := unlock(ctx, be, password, &cfg)
	if err != nil {
		return nil, err
	}
	return newRepository(be, key, kid, cfg, o)
}

// ReadConfig reads and checks the readable part of the config.
func ReadConfig(ctx context.Context, be backend.Backend) (Config, error) {
	data, err := be.Get(ctx, ConfigFile, 0, 0)
	if errors.Is(err, backend.ErrNotFound) {
		return Config{}, fmt.Errorf("%w: %s has no config file", ErrNoRepository, be.Location())
	}
	if err != nil {
		return Config{}, fmt.Errorf("read config of %s: %w", be.Location(), err)
	}
	cfg, err := DecodeConfigHeader(data)
	if errors.Is(err, ErrDamaged) {
		return Config{}, cannotOpen(fmt.Errorf("repository %s: %w", be.Location(), err))
	}
	return cfg, err
}

func newRepository(be backend.Backend, key *crypto.Key, kid string, cfg Config, o Options) (*Repository, error) {
	if o.Connections <= 0 {
		o.Connections = 2
	}
	cp, err := chunker.NewParams(key.GearSeed, cfg.Params.Chunker)
	if err != nil {
		return nil, err
	}
	// A 2 MiB window keeps each encoder's history small (slices average
	// 1 MiB); the ratio on the benchmark corpus is unchanged.
	// Format 5 compresses small files in bundles, where the fastest level
	// still stores less than the default level did for each file alone.
	level := zstd.SpeedDefault
	if bundlesIn(cfg.FormatVersion) {
		level = zstd.SpeedFastest
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(false), zstd.WithWindowSize(2<<20),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	// The decoded size of a blob is bounded by its authenticated RawLength
	// (checked after decoding); the decoder's own cap only has to admit the
	// largest blob, a folder of millions of entries (1M entries: ~100 MB).
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithDecoderMaxMemory(1<<32))
	if err != nil {
		return nil, err
	}
	r := &Repository{be: be, key: key, keyID: kid, cfg: cfg, cabinetHash: cabinetHashOf(cfg.FormatVersion), chunker: cp, idx: index.New(), opts: o,
		enc: enc, dec: dec, loadedIndex: map[string]bool{}, sealedBufs: make(chan []byte, 4*runtime.GOMAXPROCS(0)),
		trees: cabinetMemo{budget: 32 << 20}}
	if o.CacheDir != "" {
		r.cache = &cache{dir: filepath.Join(o.CacheDir, cfg.ID)}
	}
	return r, nil
}

// Close releases the repository's resources.
func (r *Repository) Close() error {
	r.enc.Close()
	r.dec.Close()
	if c, ok := r.be.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// SetConnections sets how many cabinets later Write calls store at once
// (1-10; other values keep the current setting).
func (r *Repository) SetConnections(n int) {
	if n >= 1 && n <= 10 {
		r.loadMu.Lock()
		r.opts.Connections = n
		r.loadMu.Unlock()
	}
}

func (r *Repository) connections() int {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	return r.opts.Connections
}

// Backend returns the storage the repository lives in.
func (r *Repository) Backend() backend.Backend { return r.be }

// cabinetName returns the name a cabinet of these bytes has.
func (r *Repository) cabinetName(data []byte) blob.ID {
	var id blob.ID
	h := r.cabinetHash()
	h.Write(data)
	h.Sum(id[:0])
	return id
}

// Config returns the repository's config.
func (r *Repository) Config() Config { return r.cfg }

// Chunker returns the keyed chunker parameters.
func (r *Repository) Chunker() *chunker.Params { return r.chunker }

// Index returns the in-memory index (loaded by LoadIndex).
func (r *Repository) Index() *index.Index { return r.idx }

// Key returns the repository's keys.
func (r *Repository) Key() *crypto.Key { return r.key }

// CacheDir returns the folder of this repository's local cache ("" if none).
func (r *Repository) CacheDir() string {
	if r.cache == nil {
		return ""
	}
	return r.cache.dir
}

// ListIndexFiles returns the names of the repository's index files.
func (r *Repository) ListIndexFiles(ctx context.Context) ([]string, error) {
	listed, err := r.listIndexFiles(ctx)
	names := make([]string, len(listed))
	for i, fi := range listed {
		names[i] = fi.Name
	}
	return names, err
}

func (r *Repository) listIndexFiles(ctx context.Context) ([]backend.FileInfo, error) {
	var listed []backend.FileInfo
	if err := r.be.List(ctx, IndexDir, func(fi backend.FileInfo) error {
		listed = append(listed, fi)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list index files: %w", err)
	}
	return listed, nil
}

// LoadIndex reads the index files not read yet (from the cache where it
// has them) and merges them into the in-memory index.
func (r *Repository) LoadIndex(ctx context.Context) error { return r.loadIndex(ctx, false) }

// LoadTreeIndex is LoadIndex for the tree blobs only. A mount lists
// folders with them and loads the rest when it first reads a file: the
// data blobs of a million files took 31 MB of the index.
func (r *Repository) LoadTreeIndex(ctx context.Context) error { return r.loadIndex(ctx, true) }

func (r *Repository) loadIndex(ctx context.Context, treesOnly bool) error {
	listed, err := r.listIndexFiles(ctx)
	if err != nil {
		return err
	}
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	var todo []string
	// Entries are 45 bytes in an index file, so its size bounds their
	// number: the index is sized once, before the first file is read.
	// Trees are few: their index grows as it goes.
	sizeHint := 0
	for _, fi := range listed {
		// A damaged file is read and reported once: a mount calls this
		// on every refresh, and again when a slice is not found.
		if !r.loadedIndex[fi.Name] && !(treesOnly && r.treeIndex[fi.Name]) && !r.skippedIndex[fi.Name] {
			todo = append(todo, fi.Name)
			if !treesOnly {
				sizeHint += int(fi.Size / index.EntrySize)
			}
		}
	}
	// Each file goes into the index as soon as it is decoded, so only the
	// files being read are in memory twice: holding all of them decoded
	// until the end took ~100 MB for a million blobs.
	done := make([]bool, len(todo))
	skipped := make([]bool, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, n := range todo {
		g.Go(func() error {
			packs, err := r.ReadIndexFile(gctx, n)
			if errors.Is(err, ErrDamaged) {
				// One damaged index file must not make the whole repository
				// unusable: its blobs count as missing, so a backup stores
				// them again and check reports the file.
				if r.opts.Warn != nil {
					r.opts.Warn(fmt.Errorf("%w; skipped (run 'cabinet check')", err))
				}
				skipped[i] = true
				return nil
			}
			if err != nil {
				return err
			}
			switch {
			case treesOnly:
				packs = blobsOfType(packs, blob.Tree)
			case r.treeIndex[n]: // read by LoadTreeIndex before
				packs = blobsOfType(packs, blob.Data)
			}
			r.idx.Load(packs, sizeHint)
			done[i] = true
			return nil
		})
	}
	err = g.Wait()
	for i, n := range todo {
		switch {
		case done[i] && treesOnly:
			if r.treeIndex == nil {
				r.treeIndex = map[string]bool{}
			}
			r.treeIndex[n] = true
		case done[i]:
			r.loadedIndex[n] = true
			delete(r.treeIndex, n)
		}
		if skipped[i] {
			if r.skippedIndex == nil {
				r.skippedIndex = map[string]bool{}
			}
			r.skippedIndex[n] = true
		}
	}
	r.idx.Compact()
	return err
}

// blobsOfType returns the entries of packs of blobs of type t.
func blobsOfType(packs []index.PackEntries, t blob.Type) []index.PackEntries {
	out := make([]index.PackEntries, 0, len(packs))
	for _, p := range packs {
		var keep []pack.Entry
		for _, e := range p.Entries {
			if e.Type == t {
				keep = append(keep, e)
			}
		}
		if len(keep) > 0 {
			out = append(out, index.PackEntries{Pack: p.Pack, Entries: keep})
		}
	}
	return out
}

// SkippedIndexFiles returns the names of the damaged index files LoadIndex
// skipped: the blobs they list count as missing.
func (r *Repository) SkippedIndexFiles() []string {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	return slices.Sorted(maps.Keys(r.skippedIndex))
}

// IndexFiles returns the names of the index files loaded so far.
func (r *Repository) IndexFiles() []string {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	out := make([]string, 0, len(r.loadedIndex))
	for n := range r.loadedIndex {
		out = append(out, n)
	}
	return out
}

// ReadIndexFile reads, verifies and decodes one index file.
func (r *Repository) ReadIndexFile(ctx context.Context, name string) ([]index.PackEntries, error) {
	return r.readIndexFile(ctx, name, true)
}

// readIndexFile reads one index file, from the cache where it has a copy
// unless useCache is false (check verifies the repository, not the cache).
func (r *Repository) readIndexFile(ctx context.Context, name string, useCache bool) ([]index.PackEntries, error) {
	data, err := r.getVerified(ctx, IndexDir, name, useCache)
	if err != nil {
		return nil, err
	}
	plain, err := r.key.Open(nil, data)
	if err != nil {
		return nil, fmt.Errorf("%w: index/%s: %v", ErrDamaged, name, err)
	}
	packs, err := index.Decode(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: index/%s: %v", ErrDamaged, name, err)
	}
	if err := r.bundlesAllowed(packs...); err != nil {
		return nil, fmt.Errorf("%w: index/%s: %v", ErrDamaged, name, err)
	}
	return packs, nil
}

// bundlesAllowed refuses entries of bundled blobs in a repository of a
// format before bundles (5): no writer of it made them.
func (r *Repository) bundlesAllowed(packs ...index.PackEntries) error {
	if bundlesIn(r.cfg.FormatVersion) {
		return nil
	}
	for _, p := range packs {
		for _, e := range p.Entries {
			if e.Bundled {
				return fmt.Errorf("blob %s of cabinet %s is in a bundle, which a repository of format %d cannot have", e.ID.Short(), p.Pack.Short(), r.cfg.FormatVersion)
			}
		}
	}
	return nil
}

// getVerified reads a content-addressed file (cache first when useCache)
// and checks that its SHA-256 matches its name.
func (r *Repository) getVerified(ctx context.Context, dir, name string, useCache bool) ([]byte, error) {
	if useCache {
		if data := r.cache.get(dir, name); data != nil {
			if sum := sha256.Sum256(data); fmt.Sprintf("%x", sum) == name {
				return data, nil
			}
		}
	}
	data, err := r.be.Get(ctx, dir+"/"+name, 0, 0)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(data); fmt.Sprintf("%x", sum) != name {
		return nil, fmt.Errorf("%w: %s/%s: content does not match its name (damaged or truncated file)", ErrDamaged, dir, name)
	}
	r.cache.put(dir, name, data)
	return data, nil
}

// PackName returns the backend name of a cabinet.
func PackName(id blob.ID) string {
	s := id.String()
	return DataDir + "/" + s[:2] + "/" + s
}

// SealObject seals plaintext with the repository key (for session objects
// and other small sealed files).
func (r *Repository) SealObject(plaintext []byte) []byte { return r.key.Seal(nil, plaintext) }

// OpenObject opens a sealed object; name is used in the error.
func (r *Repository) OpenObject(name string, sealed []byte) ([]byte, error) {
	plain, err := r.key.Open(nil, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDamaged, name, err)
	}
	return plain, nil
}

// cache keeps content-addressed files in a local folder. A nil cache does nothing.
type cache struct{ dir string }

func (c *cache) path(dir, name string) string { return filepath.Join(c.dir, dir, name) }

func (c *cache) get(dir, name string) []byte {
	if c == nil {
		return nil
	}
	data, err := os.ReadFile(c.path(dir, name))
	if err != nil {
		return nil
	}
	return data
}

func (c *cache) put(dir, name string, data []byte) {
	if c == nil {
		return
	}
	p := c.path(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	tmp := p + ".tmp"
	if os.WriteFile(tmp, data, 0o600) == nil {
		os.Rename(tmp, p) // the cache is best effort: a failure costs a download later
	}
}

// remove deletes a cached file and reports whether there was one.
func (c *cache) remove(dir, name string) bool {
	if c == nil {
		return false
	}
	return os.Remove(c.path(dir, name)) == nil
}
