package fs

import (
	"context"
	"errors"
	"fmt"
	"log"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// Defaults, see Options.
const (
	// DefaultCacheSize bounds the decoded slices kept in memory. With
	// 1 MiB slices it holds the read-ahead windows of several readers, and
	// a mount that has walked a 78,000-file session (about 50 MiB of
	// kernel-known nodes) still reads a 1 GiB file below 150 MiB RSS.
	DefaultCacheSize = 32 << 20
	// DefaultTreeCacheSize bounds the directory trees kept in memory, as
	// encoded listings (snapshot.Listing, about 80 bytes an entry; nodes
	// do not hold them): about 50,000 entries. A tree evicted
	// and needed again is read from the local cache of tree cabinets.
	DefaultTreeCacheSize = 4 << 20
	// DefaultRefresh is how old the session list may be when a volatile
	// folder is used: a new session appears within this plus the
	// adapters' one-second timeouts.
	DefaultRefresh = 2 * time.Second
)

// Options configure an FS. The zero value is usable.
type Options struct {
	// Device shows only this device ("" shows all).
	Device string
	// CacheSize is the memory budget of decoded slices in bytes
	// (default DefaultCacheSize).
	CacheSize int64
	// TreeCacheSize is the memory budget of directory trees
	// (default DefaultTreeCacheSize).
	TreeCacheSize int64
	// Prefetch is how many slices a sequential reader reads ahead, in
	// parallel (default 2*GOMAXPROCS, at least 4).
	Prefetch int
	// Refresh is the longest time the session list is reused before a
	// volatile folder re-reads it (default DefaultRefresh).
	Refresh time.Duration
	// Location is the time zone of session names (default time.Local).
	Location *time.Location
	// LatestAsDir makes latest a directory showing the newest session
	// instead of a symlink (for Windows, where network drives do not
	// follow symlinks).
	LatestAsDir bool
	// UID and GID own the synthetic folders (root, devices, files,
	// persona, sessions); the adapters pass the mounting user.
	UID, GID uint32
	// Logf reports problems that do not stop the mount (damaged slices,
	// unreadable sessions). Default: log.Printf.
	Logf func(format string, args ...any)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) applyDefaults() {
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.TreeCacheSize <= 0 {
		o.TreeCacheSize = DefaultTreeCacheSize
	}
	if o.Prefetch <= 0 {
		o.Prefetch = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Logf == nil {
		o.Logf = log.Printf
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// FS is the read-only tree of a repository's sessions. Safe for
// concurrent use.
type FS struct {
	r      *repo.Repository
	opts   Options
	bg     context.Context
	cancel context.CancelFunc
	start  int64 // Unix ns, mtime of the synthetic root

	slices *sliceCache
	sealed bufPool // buffers for sealed slices while they are decoded (slice.go)
	trees  *lru[blob.ID, *loadedTree]

	lookups, readdirs, treeLoads, sliceLoads, sessionLists atomic.Int64

	// The index holds tree blobs only until the first file is read
	// (needData): listing a million files then takes 31 MB less.
	dataMu     sync.Mutex
	dataLoaded atomic.Bool

	// zeroSlice's, hashed once
	zeroOnce sync.Once
	zeroID   blob.ID
	zeroSize uint32

	refreshMu sync.Mutex
	cur       atomic.Pointer[view]
	known     map[string]*snapshot.Session // by session object name
	failed    map[string]bool              // session objects damaged: not read again
	reported  map[string]bool              // session objects whose failure was logged
}

// New returns the tree of r's sessions. It reads the session list once (so
// a wrong password or an unreachable repository fails here, not at the
// first ls) and loads the index of tree blobs (repo.LoadTreeIndex); the
// rest of the index is loaded when a file is first read.
func New(ctx context.Context, r *repo.Repository, o Options) (*FS, error) {
	o.applyDefaults()
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &FS{r: r, opts: o, bg: bg, cancel: cancel, start: o.Now().UnixNano(),
		known: map[string]*snapshot.Session{}, failed: map[string]bool{}, reported: map[string]bool{}}
	f.slices = newSliceCache(bg, o.CacheSize)
	f.sealed.max = 16 << 20 // a few slices per parallel load
	f.trees = newLRU[blob.ID, *loadedTree](o.TreeCacheSize, func(t *loadedTree) int64 { return t.cost })
	if err := r.LoadTreeIndex(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("load index: %w", err)
	}
	v, err := f.load(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	f.cur.Store(v)
	return f, nil
}

// needData loads the index of data blobs, once, before the first slice
// is read.
func (f *FS) needData(ctx context.Context) error {
	if f.dataLoaded.Load() {
		return nil
	}
	f.dataMu.Lock()
	defer f.dataMu.Unlock()
	if f.dataLoaded.Load() {
		return nil
	}
	if err := f.r.LoadIndex(ctx); err != nil {
		return fmt.Errorf("load index: %w", err)
	}
	f.dataLoaded.Store(true)
	return nil
}

// Close stops background fetches. The repository stays open.
func (f *FS) Close() error {
	f.cancel()
	return nil
}

// Root returns the root folder.
func (f *FS) Root() Dir { return &rootDir{f: f} }

// Options returns the options in effect (with defaults applied).
func (f *FS) Options() Options { return f.opts }

// Stats count what the tree has served since New, for tests (request
// counts, never timings) and diagnostics.
type Stats struct {
	Lookups      int64 // Dir.Lookup calls
	Readdirs     int64 // Dir.Readdir calls
	TreeLoads    int64 // tree blobs read from the repository
	SliceLoads   int64 // content slices read from the repository
	SessionLists int64 // readings of the session list
	CachedSlices int   // decoded slices in memory now
	CachedBytes  int64 // their size
}

// Stats returns the counters.
func (f *FS) Stats() Stats {
	n, b := f.slices.stats()
	return Stats{Lookups: f.lookups.Load(), Readdirs: f.readdirs.Load(), TreeLoads: f.treeLoads.Load(),
		SliceLoads: f.sliceLoads.Load(), SessionLists: f.sessionLists.Load(), CachedSlices: n, CachedBytes: b}
}

func (s Stats) String() string {
	return fmt.Sprintf("lookups=%d readdirs=%d tree_loads=%d slice_loads=%d session_lists=%d cached_slices=%d cached_bytes=%d",
		s.Lookups, s.Readdirs, s.TreeLoads, s.SliceLoads, s.SessionLists, s.CachedSlices, s.CachedBytes)
}

// Statfs describes the file system: the data and entries of each device's
// newest sessions, from their summaries (no tree is read).
func (f *FS) Statfs(ctx context.Context) Statfs {
	st := Statfs{BlockSize: 4096, NameLen: 255}
	v := f.cur.Load()
	var bytes, files uint64
	for _, d := range v.devices {
		for _, src := range d.sources {
			if n := len(src.sessions); n > 0 {
				s := src.sessions[n-1].s
				bytes += uint64(max(s.Summary.TotalBytes, 0))
				files += uint64(max(s.Summary.TotalFiles+s.Summary.Dirs, 0))
			}
		}
	}
	st.Blocks = (bytes + 4095) / 4096
	st.Files = files
	return st
}

// Sources shown under each device, in this order.
var sources = [...]string{snapshot.SourceFiles, snapshot.SourcePersona}

// view is one reading of the session list.
type view struct {
	at      int64 // Unix ns
	devices []*deviceView
	byName  map[string]*deviceView
}

type deviceView struct {
	name    string // folder name
	device  string
	ino     uint64
	sources [len(sources)]*sourceView
}

type sourceView struct {
	ino      uint64
	path     string         // "<device>/files", for messages
	sessions []*sessionInfo // by time; the last is latest
	byName   map[string]*sessionInfo
	sorted   []*sessionInfo // by name
}

type sessionInfo struct {
	s    *snapshot.Session
	name string
	ino  uint64
	path string
}

// deviceFolderName returns the folder name of a device: its name with '/'
// and NUL replaced, so every name is one path component.
func deviceFolderName(device string) string {
	name := strings.NewReplacer("/", "_", "\x00", "_").Replace(device)
	if name == "" || name == "." || name == ".." {
		name = "_" + name
	}
	return name
}

// view returns the session list, re-reading it if older than
// Options.Refresh. If re-reading fails the previous list is kept (and the
// problem logged): a flaky network must not empty the mount.
func (f *FS) view(ctx context.Context) *view {
	v := f.cur.Load()
	if f.opts.Now().UnixNano()-v.at < int64(f.opts.Refresh) {
		return v
	}
	f.refreshMu.Lock()
	defer f.refreshMu.Unlock()
	if v = f.cur.Load(); f.opts.Now().UnixNano()-v.at < int64(f.opts.Refresh) {
		return v
	}
	// The refresh is shared by every waiting request: an interrupted
	// caller (go-fuse cancels on any signal, even SIGURG) must not abort it.
	nv, err := f.load(f.bg)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			f.opts.Logf("mount: refresh sessions: %v", err)
		}
		// Try again at the next use after another interval.
		stale := *v
		stale.at = f.opts.Now().UnixNano()
		f.cur.Store(&stale)
		return &stale
	}
	f.cur.Store(nv)
	return nv
}

// load reads the session list: one LIST per device and one GET per session
// object not seen before. New sessions make it load new index files.
func (f *FS) load(ctx context.Context) (*view, error) {
	f.sessionLists.Add(1)
	devices := []string{f.opts.Device}
	if f.opts.Device == "" {
		var err error
		if devices, err = f.r.Devices(ctx); err != nil {
			return nil, err
		}
	}
	v := &view{at: f.opts.Now().UnixNano(), byName: map[string]*deviceView{}}
	var fresh []string
	for _, d := range devices {
		refs, err := f.r.SessionRefs(ctx, d)
		if err != nil {
			return nil, err
		}
		var ss []*snapshot.Session
		for _, ref := range refs {
			s := f.known[ref.Name]
			if s == nil {
				if f.failed[ref.Name] {
					continue
				}
				if s, err = snapshot.LoadSession(ctx, f.r, ref); err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					if !f.reported[ref.Name] {
						f.opts.Logf("mount: skipping session %s: %v", ref.Path(), err)
						f.reported[ref.Name] = true
					}
					// Damage stays: the session is not read again. Another
					// error (the disk or network for a moment) is tried again
					// at the next refresh, not hidden until a remount.
					f.failed[ref.Name] = errors.Is(err, repo.ErrDamaged) || errors.Is(err, repo.ErrVersion)
					continue
				}
				f.known[ref.Name] = s
				fresh = append(fresh, ref.Name)
			}
			ss = append(ss, s)
		}
		snapshot.SortSessions(ss)
		name := deviceFolderName(d)
		if _, dup := v.byName[name]; dup {
			continue
		}
		dv := &deviceView{name: name, device: d, ino: inoOf(rootIno, 'd', d)}
		for i, src := range sources {
			sv := &sourceView{ino: inoOf(dv.ino, 's', src), path: name + "/" + src, byName: map[string]*sessionInfo{}}
			var group []*snapshot.Session
			for _, s := range ss {
				if s.Source == src {
					group = append(group, s)
				}
			}
			names := snapshot.TimeNames(group, f.opts.Location)
			for j, s := range group {
				si := &sessionInfo{s: s, name: names[j], ino: inoOf(sv.ino, 'S', s.Ref.Name), path: sv.path + "/" + names[j]}
				sv.sessions = append(sv.sessions, si)
				sv.byName[si.name] = si
			}
			sv.sorted = append([]*sessionInfo(nil), sv.sessions...)
			sort.Slice(sv.sorted, func(a, b int) bool { return sv.sorted[a].name < sv.sorted[b].name })
			dv.sources[i] = sv
		}
		v.devices = append(v.devices, dv)
		v.byName[name] = dv
	}
	sort.Slice(v.devices, func(i, j int) bool { return v.devices[i].name < v.devices[j].name })
	if len(fresh) > 0 {
		// A new session's trees and slices are in index files written
		// after ours were read.
		load := f.r.LoadTreeIndex
		if f.dataLoaded.Load() {
			load = f.r.LoadIndex
		}
		if err := load(ctx); err != nil {
			for _, n := range fresh {
				delete(f.known, n) // so the next refresh loads the index again
			}
			return nil, fmt.Errorf("load index: %w", err)
		}
	}
	return v, nil
}

// SessionFolders returns every session folder ("<device>/files/<time>")
// and latest entry, re-reading the session list if it is older than
// Options.Refresh, mapped to the session's ID. Adapters that must announce
// changes (WinFsp: Explorer does not re-list on its own) compare two calls.
func (f *FS) SessionFolders(ctx context.Context) map[string]string {
	v := f.view(ctx)
	out := map[string]string{}
	for _, dv := range v.devices {
		for _, sv := range dv.sources {
			for _, si := range sv.sessions {
				out[si.path] = si.s.Ref.Name
			}
			if n := len(sv.sessions); n > 0 {
				out[sv.path+"/"+LatestName] = sv.sessions[n-1].s.Ref.Name
			}
		}
	}
	return out
}
