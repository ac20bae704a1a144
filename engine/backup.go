package engine

import (
	"context"
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
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cabinetbackup/cabinet/internal/directio"
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/chunker"
	"github.com/cabinetbackup/cabinet/snapshot"
)

type blobID = blob.ID

// BackupOptions describe one backup session.
type BackupOptions struct {
	Device   string
	Source   string   // snapshot.SourceFiles (default) or SourcePersona
	Paths    []string // what to back up
	Tags     []string
	Excludes []string // patterns, see Match
	// ExcludeCaches leaves out the content of folders that hold a cache
	// directory tag (CACHEDIR.TAG with its signature; the tag itself is
	// kept), as restic's --exclude-caches.
	ExcludeCaches bool
	// OneFileSystem keeps the folders where another file system is mounted
	// below a backup path as empty folders, as restic's --one-file-system.
	OneFileSystem bool
	// Priority patterns (see Match): matching files are processed first;
	// within each group files changed on a later day go first, folder by
	// folder within a day.
	Priority []string
	// RootIsPath makes the session's root tree the single path itself
	// instead of the tree of absolute paths (persona sessions).
	RootIsPath bool
	Hostname   string
	User       string
	// RegisterDir holds the register; "" backs up without one (every file is read).
	RegisterDir string
	// LockDir is where the restores of this device announce themselves
	// (see pause.go): processing waits while one runs. "" never waits.
	LockDir string
	// Force reads every file and stores every tree the index lacks, as
	// without a register, and writes the register: after a damaged index
	// file, say.
	Force bool
	// Readers is the number of files read at once (default 8: small files
	// on a cold cache are bound by I/O latency, not CPU; one large file is
	// sliced at a time); Workers the
	// number of slice workers (default GOMAXPROCS).
	Readers, Workers int
	Now              func() time.Time
	// Progress is called about every ProgressEvery with the running totals.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Warn is called for every file that could not be read; the session
	// goes on and ends "completed with warnings".
	Warn func(path string, err error)
	// Processing, if set, is called once when scanning ends and processing
	// (reading, slicing, storing) begins.
	Processing func()
	// resliced, if set, is told of each file resliced along its previous
	// slices: how many of them it kept, and how many times it went back
	// to the chunker because one had changed.
	resliced func(path string, kept, restarts int)
}

// Stages of a backup (Progress.Stage).
const (
	StageScanning   = "scanning"
	StageProcessing = "processing"
	// StagePaused: processing waits while a restore of this device runs.
	StagePaused = "paused"
)

// Progress is a running view of a session.
type Progress struct {
	Stage          string // StageScanning, StageProcessing or StagePaused
	FilesScanned   int64
	BytesScanned   int64
	FilesTotal     int64 // estimate known after scanning
	BytesTotal     int64
	FilesDone      int64
	BytesDone      int64 // of unchanged files, and slices of the others as they are stored
	BytesToProcess int64
	BytesProcessed int64
	Elapsed        time.Duration
}

func (o *BackupOptions) applyDefaults() {
	if o.Source == "" {
		o.Source = snapshot.SourceFiles
	}
	if o.Readers <= 0 {
		o.Readers = 8
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.Warn == nil {
		o.Warn = func(string, error) {}
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Device == "" {
		o.Device = o.Hostname
	}
}

// dirNode is a directory being assembled during a backup.
type dirNode struct {
	node     snapshot.Node
	path     string // absolute path on disk
	mu       sync.Mutex
	files    []*fileNode
	children []*dirNode
	others   []snapshot.Node // symlinks, devices, ...
	parent   *dirNode        // while scanning
	// dev is the file system the folder is on; skip (OneFileSystem) keeps
	// it as an empty folder because another one is mounted there.
	dev  uint64
	skip bool
	// queued counts the files here that processing must read; until then
	// the folder's tree cannot be written. They join files as they are read.
	queued atomic.Int32
	// left counts sub-folders still being scanned, plus one for the folder
	// itself; the goroutine that brings it to zero finishes the folder.
	left atomic.Int32
	// saved means the tree is stored (node.Subtree) and the entries dropped:
	// folders with nothing to read are written during scanning, the others
	// as soon as processing has read their files (waiting), so memory holds
	// only what processing still needs.
	saved bool
	// waiting counts, in processing, the queued files and unsaved
	// sub-folders that must finish before the tree can be written.
	waiting atomic.Int32
}

// fileNode is a regular file. Files to read wait in the queue file and
// become fileNodes when processing reaches them.
type fileNode struct {
	meta    fileMeta
	dir     *dirNode // its folder: the path is dir.path + name, not a string per file
	fp      fingerprint
	changed bool // in the register but different
	failed  bool
	// opened is the file, opened by the queue for its reader (prefetchFile).
	opened *os.File
	wg     sync.WaitGroup
	mu     sync.Mutex
}

// path is the file's absolute path on disk.
func (f *fileNode) path() string { return joinName(f.dir.path, f.meta.Name) }

// top is the path of the outermost folder the scan walked down to the
// file (a backup path, or the folder of one that is a file): what lies
// below it the scan saw without symlinks, and a read must see it so too.
func (f *fileNode) top() string {
	d := f.dir
	for d.parent != nil {
		d = d.parent
	}
	return d.path
}

// fileMeta is what a file keeps of its snapshot.Node until its folder's
// tree is written: no link target, device number, subtree or owner names
// (names come from the ID caches when the tree is made). A million queued
// files hold one each: fileNode is 216 bytes instead of 312.
type fileMeta struct {
	Name                  string
	Mode, UID, GID, Links uint32
	ModTime               int64
	Size                  uint64
	Inode, DeviceID       uint64
	Content               []blob.ID
	Sizes                 []uint32
	Xattrs                []snapshot.Xattr
}

func metaOf(n *snapshot.Node) fileMeta {
	return fileMeta{Name: n.Name, Mode: n.Mode, UID: n.UID, GID: n.GID, Links: n.Links, ModTime: n.ModTime,
		Size: n.Size, Inode: n.Inode, DeviceID: n.DeviceID, Content: n.Content, Sizes: n.Sizes, Xattrs: n.Xattrs}
}

// node is the file's tree entry.
func (m *fileMeta) node(names *idNames) snapshot.Node {
	return snapshot.Node{Name: m.Name, Type: snapshot.TypeFile, Mode: m.Mode, UID: m.UID, GID: m.GID,
		User: names.user(m.UID), Group: names.group(m.GID), ModTime: m.ModTime, Size: m.Size,
		Inode: m.Inode, DeviceID: m.DeviceID, Links: m.Links, Content: m.Content, Sizes: m.Sizes, Xattrs: m.Xattrs}
}

type backupRun struct {
	r     *repo.Repository
	o     BackupOptions
	reg   *register
	start time.Time
	names *idNames
	zeros zeroSlices
	// the compiled o.Excludes and o.Priority
	excludes, priority patterns

	filesScanned, bytesScanned atomic.Int64
	// Scanned files the session does not hold (unreadable, vanished), and
	// scanned bytes it does not hold (those files', and what files shrank
	// by while read; a file that grew counts negative): the summary's
	// totals are what the session holds, not what the scan saw.
	filesDropped, bytesDropped                       atomic.Int64
	filesDone, bytesDone, bytesProcessed, bytesQueue atomic.Int64 // bytesDone: of unchanged files
	filesNew, filesChanged, filesUnchanged, dirs     atomic.Int64
	bytesRead, warnings                              atomic.Int64
	pause                                            *pauseWatch // nil: never pauses
	stage                                            atomic.Value

	// queue holds the files to read; small and large are its two lanes
	// (see process), sorted once scanning is done.
	queue        *queueFile
	small, large queueLane
	smallLimit   uint64 // files below it are one slice: the chunker's minimum

	w          *repo.Writer // during the session's Write
	scanErr    error
	scanErrMux sync.Mutex

	// The index is loaded when first needed (needIndex): a backup that
	// finds every file and folder unchanged, with register entries it
	// trusts, never loads it.
	indexOnce sync.Once
	indexErr  error
}

// Backup runs one backup session and returns the stored session.
// Unreadable files are reported through Warn and counted in the summary;
// the session status then says "completed with warnings".
func Backup(ctx context.Context, r *repo.Repository, o BackupOptions) (*snapshot.Session, error) {
	o.applyDefaults()
	if len(o.Paths) == 0 {
		return nil, errors.New("nothing to back up: name at least one path")
	}
	if o.RootIsPath && len(o.Paths) != 1 {
		return nil, errors.New("a session rooted at its path takes exactly one path")
	}
	b := &backupRun{r: r, o: o, start: o.Now(), names: newIDNames(), smallLimit: uint64(r.Chunker().Sizes().Min)}
	var err error
	if b.excludes, err = compilePatterns("exclude", o.Excludes); err != nil {
		return nil, err
	}
	if b.priority, err = compilePatterns("priority", o.Priority); err != nil {
		return nil, err
	}
	b.stage.Store(StageScanning)
	reg, err := openRegister(o.RegisterDir, o.Device, o.Source)
	switch {
	case errors.Is(err, ErrBusy):
		return nil, err
	case err != nil:
		// The register is a cache: without it every file is read, and the
		// session is as good (a full disk where the cache lives, say).
		b.warn(o.RegisterDir, fmt.Errorf("%w; backing up without it: every file is read", err))
		reg = nil
	}
	b.reg = reg
	defer reg.close()
	b.queue = newQueueFile(o.RegisterDir)
	defer b.queue.close()
	if reg != nil {
		names, err := r.ListIndexFiles(ctx)
		if err != nil {
			return nil, err
		}
		if err := reg.begin(names); err != nil {
			b.warn(reg.path, fmt.Errorf("%w; backing up without the register: every file is read", err))
			reg.close()
			b.reg = nil
		}
	}
	// The parent is only named in the session: looked for while scanning.
	// A backup that fails stops the search and waits for it: the caller
	// may close the repository next.
	var known map[string]sessionSeen
	if b.reg != nil {
		known = b.reg.sessions
	}
	searchCtx, stopSearch := context.WithCancel(ctx)
	parentFound := make(chan parentSearch, 1)
	go func() { parentFound <- b.findParent(searchCtx, known) }()
	searched := false
	defer func() {
		stopSearch()
		if !searched {
			<-parentFound
		}
	}()

	stopProgress := b.reportProgress(ctx)
	defer stopProgress()

	abs := make([]string, len(o.Paths))
	for i, p := range o.Paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("backup path %s: %w", p, err)
		}
		if _, err := lstat(a); err != nil {
			return nil, fmt.Errorf("backup path %s: %w", p, err)
		}
		abs[i] = a
	}
	abs = dropNested(abs)
	root := &dirNode{node: snapshot.Node{Type: snapshot.TypeDir, Mode: 0o755}}
	var rootID blob.ID
	stats, err := r.Write(ctx, func(ctx context.Context, w *repo.Writer) error {
		b.w = w
		// Stage 1: scanning.
		if o.RootIsPath {
			fi, err := lstat(abs[0])
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return fmt.Errorf("backup path %s is not a folder", abs[0])
			}
			root.node = b.nodeFromInfo("", abs[0], fi)
			if err := b.scanTree(ctx, abs[0], root); err != nil {
				return err
			}
		} else {
			for _, a := range abs {
				if err := b.scanPath(ctx, root, a); err != nil {
					return err
				}
			}
		}
		if b.scanErr != nil {
			return b.scanErr
		}
		b.queue.finish()
		// Stage 2: processing, by priority, then most recent change date first.
		b.stage.Store(StageProcessing)
		if b.small.len()+b.large.len() > 0 {
			pauseCtx, stopWatch := context.WithCancel(ctx)
			defer stopWatch()
			b.pause = watchRestores(pauseCtx, o.LockDir, func(paused bool) {
				if paused {
					b.stage.Store(StagePaused)
				} else {
					b.stage.Store(StageProcessing)
				}
			})
		}
		if o.Processing != nil {
			o.Processing()
		}
		sortQueue(b.small)
		sortQueue(b.large)
		if b.small.len()+b.large.len() > 0 {
			// Slices are stored unless the index has them.
			if err := b.needIndex(ctx); err != nil {
				return err
			}
			// Room for the blobs processing may add (a slice per small
			// file, per average slice of the rest, a tree per folder), so
			// the index grows without copying itself.
			b.r.Index().Reserve(b.small.len() + b.large.len() + int(b.bytesQueue.Load()/int64(b.r.Chunker().Sizes().Avg)) + int(b.dirs.Load()))
		}
		countWaiting(root)
		if err := b.process(ctx, w); err != nil {
			return err
		}
		var err error
		rootID, err = b.saveDir(ctx, w, root)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The register's entries are written before the session is saved: a
	// register that cannot take them (a full disk where the cache lives)
	// is a warning of this session, not a silent full read next time.
	if b.reg != nil {
		if err := b.reg.flush(); err != nil && !errors.Is(err, errRegisterDamaged) {
			b.warn(o.RegisterDir, fmt.Errorf("register not updated: %w; the next backup reads every file", err))
		}
	}
	status := snapshot.StatusCompleted
	if b.warnings.Load() > 0 {
		status = snapshot.StatusCompletedWithWarnings
	}
	user := o.User
	if user == "" {
		user = currentUser()
	}
	s := &snapshot.Session{
		Device: o.Device, User: user, Hostname: o.Hostname, OS: runtime.GOOS, Arch: runtime.GOARCH,
		Source: o.Source, Time: b.start, Paths: abs, Tags: o.Tags, Status: status, Tree: rootID,
		Summary: snapshot.Summary{
			FilesNew: b.filesNew.Load(), FilesChanged: b.filesChanged.Load(), FilesUnchanged: b.filesUnchanged.Load(),
			Dirs: b.dirs.Load(), TotalFiles: b.filesScanned.Load() - b.filesDropped.Load(), TotalBytes: b.bytesScanned.Load() - b.bytesDropped.Load(),
			BytesRead: b.bytesRead.Load(), BytesAdded: stats.Stored, BlobsAdded: stats.Blobs,
			Warnings: b.warnings.Load(), DurationSecs: o.Now().Sub(b.start).Seconds(),
		},
	}
	found := <-parentFound
	searched = true
	s.Parent = found.parent
	if err := snapshot.SaveSession(ctx, r, s); err != nil {
		return nil, err
	}
	if found.sessions != nil {
		found.sessions[s.ID()] = sessionSeen{time: s.Time.UnixNano(), source: s.Source}
	}
	b.updateRegister(ctx, found.sessions)
	return s, nil
}

func (b *backupRun) reportProgress(ctx context.Context) func() {
	if b.o.Progress == nil {
		return func() {}
	}
	return every(ctx, b.o.ProgressEvery, func() { b.o.Progress(b.progress()) })
}

func (b *backupRun) progress() Progress {
	return Progress{
		Stage:        b.stage.Load().(string),
		FilesScanned: b.filesScanned.Load(), BytesScanned: b.bytesScanned.Load(),
		FilesTotal: b.filesScanned.Load(), BytesTotal: b.bytesScanned.Load(),
		FilesDone: b.filesDone.Load(), BytesDone: b.bytesDone.Load() + b.bytesProcessed.Load(),
		BytesToProcess: b.bytesQueue.Load(), BytesProcessed: b.bytesProcessed.Load(),
		Elapsed: b.o.Now().Sub(b.start),
	}
}

func (b *backupRun) warn(path string, err error) {
	b.warnings.Add(1)
	b.o.Warn(path, err)
}

// scanPath adds the absolute path a (and the folders leading to it) to root.
func (b *backupRun) scanPath(ctx context.Context, root *dirNode, a string) error {
	parts := splitPath(a)
	d := root
	cur := volumeRoot(a)
	root.path = cur
	for i, name := range parts {
		cur = filepath.Join(cur, name)
		fi, err := lstat(cur)
		if err != nil {
			return fmt.Errorf("backup path %s: %w", cur, err)
		}
		last := i == len(parts)-1
		if !last && fi.Mode()&os.ModeSymlink != 0 {
			// A folder above the backup path reached through a symlink
			// (backup /home/me/link/docs): the session holds it as the
			// folder the path went through. Kept as a symlink, its
			// children could not be restored (or shown) below it.
			if fi, err = os.Stat(cur); err != nil {
				return fmt.Errorf("backup path %s: %w", cur, err)
			}
		}
		if !last || fi.IsDir() {
			child := d.childDir(name)
			if child == nil {
				child = &dirNode{node: b.nodeFromInfo(name, cur, fi), path: cur, dev: deviceOf(fi)}
				d.children = append(d.children, child)
			}
			if last {
				return b.scanTree(ctx, cur, child)
			}
			d = child
			continue
		}
		b.addEntry(ctx, d, name, cur, fi)
	}
	if len(parts) == 0 { // backing up "/" itself
		fi, err := lstat(cur)
		if err != nil {
			return fmt.Errorf("backup path %s: %w", cur, err)
		}
		root.dev = deviceOf(fi)
		return b.scanTree(ctx, cur, root)
	}
	return nil
}

// joinName is filepath.Join of a clean folder path and the name of one of
// its entries, without Join's Clean pass over the whole path: a no-change
// backup joins a path for every entry it stats (2.7 % of its CPU).
func joinName(dir, name string) string {
	if dir != "" && os.IsPathSeparator(dir[len(dir)-1]) {
		return dir + name
	}
	return dir + string(filepath.Separator) + name
}

func (d *dirNode) childDir(name string) *dirNode {
	for _, c := range d.children {
		if c.node.Name == name {
			return c
		}
	}
	return nil
}

// scanTree scans the folder at path into d, fanning sub-folders out to
// other goroutines while the walker limit allows.
func (b *backupRun) scanTree(ctx context.Context, path string, d *dirNode) error {
	d.path = path
	sem := make(chan struct{}, 4*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	var walk func(path string, d *dirNode)
	walk = func(path string, d *dirNode) {
		if ctx.Err() != nil {
			return
		}
		if d.skip { // another file system: an empty folder
			b.dirs.Add(1)
			d.left.Store(1)
			b.scanned(ctx, d)
			return
		}
		subdirs, err := b.scanDir(ctx, path, d)
		if err != nil {
			errMu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			errMu.Unlock()
			return
		}
		d.left.Store(int32(len(subdirs)) + 1)
		defer b.scanned(ctx, d)
		for _, s := range subdirs {
			select {
			case sem <- struct{}{}:
				wg.Add(1)
				go func(s *dirNode, p string) {
					defer func() { <-sem; wg.Done() }()
					walk(p, s)
				}(s, joinName(path, s.node.Name))
			default:
				walk(joinName(path, s.node.Name), s)
			}
		}
	}
	walk(path, d)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// scanned is called once for a folder itself and once for each of its
// sub-folders when they are done; the last call finishes the folder.
func (b *backupRun) scanned(ctx context.Context, d *dirNode) {
	for d != nil && d.left.Add(-1) == 0 {
		b.finishScan(ctx, d)
		d = d.parent
	}
}

// finishScan writes the tree of a folder whose files need no reading and
// whose sub-folders are all written, and drops its entries from memory.
func (b *backupRun) finishScan(ctx context.Context, d *dirNode) {
	if d.queued.Load() > 0 || b.w == nil || ctx.Err() != nil {
		return
	}
	for _, c := range d.children {
		if !c.saved {
			return
		}
	}
	if err := b.writeTree(ctx, b.w, d); err != nil {
		b.failScan(err)
	}
}

// failScan records the first error that ends the scan.
func (b *backupRun) failScan(err error) {
	b.scanErrMux.Lock()
	defer b.scanErrMux.Unlock()
	if b.scanErr == nil {
		b.scanErr = err
	}
}

// writeTree stores the tree of d, whose sub-folders are all written, and
// drops its entries from memory.
func (b *backupRun) writeTree(ctx context.Context, w *repo.Writer, d *dirNode) error {
	id, err := b.saveDir(ctx, w, d)
	if err != nil {
		return err
	}
	d.node.Subtree = id
	d.saved = true
	d.files, d.children, d.others = nil, nil, nil
	return nil
}

// scanDir lists one folder, stats its entries and checks files against the
// register. It returns the sub-folders to walk.
func (b *backupRun) scanDir(ctx context.Context, path string, d *dirNode) ([]*dirNode, error) {
	b.dirs.Add(1)
	root, err := openFolder(path)
	if err != nil {
		b.warn(path, err)
		return nil, nil
	}
	defer root.close()
	names, err := root.names()
	if err != nil {
		b.warn(path, err)
		return nil, nil
	}
	sort.Strings(names)
	if b.o.ExcludeCaches && isCacheDir(path, names) {
		names = []string{cacheDirTag}
	}
	// A huge folder is read in parts by several goroutines: one walker
	// took 16 s over a folder of a million files that a cold find lists in
	// 1.3 s. The parts join the folder in name order.
	parts := make([]scanPart, max(1, min(2*runtime.GOMAXPROCS(0), (len(names)+partNames-1)/partNames)))
	size := (len(names) + len(parts) - 1) / len(parts)
	var wg sync.WaitGroup
	for i := range parts {
		p := &parts[i]
		p.solo = len(parts) == 1
		lo, hi := min(i*size, len(names)), min((i+1)*size, len(names))
		if p.solo {
			b.scanNames(ctx, root, path, d, names[lo:hi], p)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.scanNames(ctx, root, path, d, names[lo:hi], p)
		}()
	}
	wg.Wait()
	var subdirs []*dirNode
	for i := range parts {
		subdirs = append(subdirs, parts[i].subdirs...)
		b.join(d, &parts[i])
	}
	d.children = append(d.children, subdirs...)
	return subdirs, nil
}

// join adds what a part of d's scan found to d, and its files to read to
// the queue.
func (b *backupRun) join(d *dirNode, p *scanPart) {
	if d.files == nil {
		d.files = p.files // a folder of one part: no copy
	} else {
		d.files = append(d.files, p.files...)
	}
	d.others = append(d.others, p.others...)
	b.enqueue(&p.batch)
}

// partNames is the size of a folder's parts: a folder of more entries is
// scanned in parts of at most this many, or in 2*GOMAXPROCS larger ones.
const partNames = 4096

// scanPart is what one goroutine finds in its share of a folder's names.
type scanPart struct {
	subdirs []*dirNode
	files   []*fileNode
	others  []snapshot.Node // symlinks, devices, ...
	batch   queueBatch
	// solo: the folder's only part, so its batch may go to the queue in
	// pieces without breaking the name order of the folder's records.
	solo bool
}

// scanNames stats names (sorted) of the folder d at path and checks
// files against the register, into p.
func (b *backupRun) scanNames(ctx context.Context, root *folder, path string, d *dirNode, names []string, p *scanPart) {
	var tx *bolt.Tx
	var registered *registerLookup // once a folder, not once a file (1.5 % of a no-change backup's CPU)
	uncounted := 0                 // register reads not yet passed to noteLookups
	exclusion := newFolderExclusion(b.excludes, path)
	if b.reg != nil && !b.o.Force {
		var err error
		if tx, err = b.reg.db.Begin(false); err == nil {
			defer tx.Rollback()
			defer func() { b.reg.noteLookups(tx, uncounted) }() // before the Rollback: inside tx
			registered = b.reg.lookup(tx)
		}
	}
	for _, name := range names {
		if tx != nil {
			// Counted as they go: a folder of a million files would map
			// all the register pages it reads before its end.
			if uncounted++; uncounted == trimEvery {
				b.reg.noteLookups(tx, uncounted)
				uncounted = 0
			}
		}
		if exclusion.excludes(name) {
			continue
		}
		full := joinName(path, name)
		fi, err := root.lstat(name)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				b.warn(full, err)
			}
			continue
		}
		if fi.IsDir() {
			dev := deviceOf(fi)
			p.subdirs = append(p.subdirs, &dirNode{node: b.nodeFromInfo(name, full, fi), parent: d, path: full,
				dev: dev, skip: b.o.OneFileSystem && dev != d.dev})
			continue
		}
		b.addEntryTx(ctx, registered, p, d, name, full, fi)
	}
}

func (b *backupRun) addEntry(ctx context.Context, d *dirNode, name, full string, fi os.FileInfo) {
	var registered *registerLookup
	if b.reg != nil && !b.o.Force {
		if tx, err := b.reg.db.Begin(false); err == nil {
			defer tx.Rollback()
			registered = b.reg.lookup(tx)
		}
	}
	p := scanPart{solo: true}
	b.addEntryTx(ctx, registered, &p, d, name, full, fi)
	b.join(d, &p)
}

// enqueue writes a folder's batch of files to read to the queue file.
func (b *backupRun) enqueue(batch *queueBatch) {
	if len(batch.buf) > 0 {
		b.queue.add(batch, &b.small, &b.large)
		*batch = queueBatch{buf: batch.buf[:0], small: batch.small[:0], large: batch.large[:0]}
	}
}

// rank is the index of the first priority pattern matching path, or the
// number of patterns.
func (b *backupRun) rank(path string) int32 {
	if i := b.priority.index(pathNames(path)); i >= 0 {
		return int32(i)
	}
	return int32(len(b.priority))
}

// addEntryTx adds one entry of a folder to p. registered reads the
// register's entries in a read transaction (nil: no register): a file it
// knows, unchanged, keeps its slices and is not read.
func (b *backupRun) addEntryTx(ctx context.Context, registered *registerLookup, p *scanPart, d *dirNode, name, full string, fi os.FileInfo) {
	n := b.nodeFromInfo(name, full, fi)
	if n.Type != snapshot.TypeFile {
		if n.Type == snapshot.TypeSymlink {
			target, err := readlink(full)
			if err != nil {
				b.warn(full, err)
				return
			}
			n.Target = target
		}
		p.others = append(p.others, n)
		return
	}
	f := &fileNode{meta: metaOf(&n), dir: d, fp: fingerprintOf(fi)}
	b.filesScanned.Add(1)
	b.bytesScanned.Add(fi.Size())
	var (
		known, ok bool
		cached    snapshot.Node
		fp        fingerprint
		gen       uint64
	)
	if registered != nil {
		b.reg.get(registered, full, func(v []byte) {
			known = true
			fp, gen, ok = decodeRegisterValue(v, &cached) // copies out of v
		})
	}
	if known {
		stored, checked := false, false
		if ok && fp == f.fp {
			stored, checked = b.slicesStored(ctx, &cached, gen)
		}
		if stored {
			f.meta.Content, f.meta.Sizes = cached.Content, cached.Sizes
			switch {
			case cached.Xattrs == nil: // an entry from before they were kept
				f.meta.Xattrs = readXattrs(full)
			case len(cached.Xattrs) > 0:
				f.meta.Xattrs = cached.Xattrs
			}
			if checked {
				// Checked against the index: trusted from now on. (An
				// entry trusted without a check keeps its generation:
				// asking trusts again could see a distrust made
				// meanwhile, and stamp an entry nobody checked.)
				b.reg.put([]byte(full), encodeRegisterValue(f.fp, &snapshot.Node{Content: f.meta.Content, Sizes: f.meta.Sizes, Xattrs: f.meta.Xattrs}, b.reg.run))
			}
			b.filesUnchanged.Add(1)
			b.filesDone.Add(1)
			b.bytesDone.Add(fi.Size())
			p.files = append(p.files, f)
			return
		}
		f.changed = true
	}
	f.meta.Xattrs = readXattrs(full)
	if fi.Size() == 0 { // nothing to read
		if f.changed {
			b.filesChanged.Add(1)
		} else {
			b.filesNew.Add(1)
		}
		b.filesDone.Add(1)
		p.files = append(p.files, f)
		if b.reg != nil {
			// Written now, not kept for the end: 1.1M empty files held
			// ~100 MB of entries until the session was saved.
			b.reg.put([]byte(full), encodeRegisterValue(f.fp, &snapshot.Node{Xattrs: f.meta.Xattrs}, b.reg.run))
		}
		return
	}
	d.queued.Add(1)
	b.bytesQueue.Add(fi.Size())
	p.batch.put(f, b.rank(full), f.meta.Size >= b.smallLimit)
	if p.solo && len(p.batch.buf) >= 1<<20 { // a large folder goes in pieces
		b.enqueue(&p.batch)
	}
}

// slicesStored says whether the slices of a register entry of generation
// gen are in the repository: the register trusts the entry, or the index
// has them all; checked says the index was asked.
func (b *backupRun) slicesStored(ctx context.Context, cached *snapshot.Node, gen uint64) (stored, checked bool) {
	if len(cached.Content) == 0 || b.reg.trusts(gen) {
		return true, false
	}
	if err := b.needIndex(ctx); err != nil {
		b.failScan(err)
		return false, false
	}
	idx := b.r.Index()
	for _, id := range cached.Content {
		if !idx.Has(id) {
			return false, true
		}
	}
	return true, true
}

// needIndex loads the index once, when a run first needs it. A damaged
// index file, skipped, leaves blobs out of it that trusted register entries
// may use: see register.distrust.
func (b *backupRun) needIndex(ctx context.Context) error {
	b.indexOnce.Do(func() {
		b.indexErr = b.r.LoadIndex(ctx)
		if b.indexErr == nil && b.reg != nil {
			b.reg.distrust(b.r.SkippedIndexFiles())
		}
	})
	return b.indexErr
}

type sliceJob struct {
	f    *fileNode
	i    int
	data []byte
	// A file sliced along its previous slices (resliceFile) gets a report
	// of each slice; a slice proposed there is stored only if its ID is
	// want, the previous slice's.
	report  chan<- sliceReport
	propose bool
	want    blob.ID
	// zeros: a proposed slice of zeros, in zeroSlices' shared read-only
	// data, which the reader found zeros in the file
	zeros bool
}

// process reads every pending file and sends its slices to the workers.
func (b *backupRun) process(ctx context.Context, w *repo.Writer) error {
	if b.small.len()+b.large.len() == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cp := b.r.Chunker()
	// Slice buffers start at twice the average slice size and grow when a
	// slice is larger; small files get their own pool of exact-size reads.
	bufs := newSlicePools(cp.Sizes().Avg, b.o.Workers+4)
	jobs := make(chan sliceJob, b.o.Workers)
	key := b.r.Key()

	var workers sync.WaitGroup
	for range b.o.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				var id blob.ID
				ok := ctx.Err() == nil
				switch {
				case ok && j.zeros: // checked by the reader
					id = j.want
				case ok:
					id = b.zeros.id(key, j.data)
					ok = !j.propose || id == j.want
				}
				if ok {
					if _, _, err := w.SaveBlobID(ctx, blob.Data, id, j.data); err != nil {
						cancel(err)
					}
					j.f.mu.Lock()
					j.f.meta.Content[j.i] = id
					j.f.mu.Unlock()
					b.bytesProcessed.Add(int64(len(j.data)))
				}
				if !j.zeros {
					bufs.Put(j.data)
				}
				if j.report != nil {
					j.report <- sliceReport{i: j.i, id: id, ok: ok, proposed: j.propose} // never blocks: see resliceFile
				}
				j.f.wg.Done()
			}
		}()
	}
	var readers sync.WaitGroup
	var finishers sync.WaitGroup
	// Chunker buffers (2x the maximum slice each) are shared: at most
	// largeReaders files are sliced at once, whatever the reader count. One
	// is enough: slicing runs at 3.2 GB/s a core, hashing and compressing
	// the slices (the workers) are the slower part, and a second buffer
	// cost 8 MiB of peak memory.
	const largeReaders = 1
	chunkBufs := make(chan *chunkerBufs, largeReaders)
	for range largeReaders {
		chunkBufs <- &chunkerBufs{}
	}
	// Two lanes, each in queue order: small files (one read each, mostly
	// waiting on the disk) and large ones (sequential reads, mostly CPU).
	// Run together, the large files' slicing, hashing and compression fill
	// the cores while small-file reads wait: on the full corpus the small
	// files had taken 12 s at 130 % CPU before the two big ones began. The
	// small lane also has the kernel read its next prefetchFiles files
	// ahead of its readers (see prefetchFile).
	lane := func(queue queueLane, nReaders int, prefetch bool) {
		files := make(chan *fileNode)
		for range nReaders {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for f := range files {
					b.pause.wait(ctx)
					b.readFile(ctx, f, cp, chunkBufs, bufs, jobs)
					finishers.Add(1)
					go func() {
						defer finishers.Done()
						f.wg.Wait()
						b.filesDone.Add(1) // its bytes counted slice by slice (bytesProcessed)
						if err := b.fileRead(ctx, w, f); err != nil {
							cancel(err)
						}
					}()
				}
			}()
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer close(files)
			qr := b.queue.reader()
			var ahead []*fileNode // prefetched, not yet handed to a reader
			defer func() {
				for _, f := range ahead { // cancelled: their files stay unread
					if f.opened != nil {
						f.opened.Close()
						f.opened = nil
					}
				}
			}()
			for i, chunk := range queue {
				for _, e := range chunk {
					f, err := qr.file(e)
					if err != nil {
						cancel(err)
						return
					}
					if prefetch {
						f.opened = prefetchSource(f.path(), int64(f.meta.Size), f.fp.inode, f.top())
					}
					ahead = append(ahead, f)
					if prefetch && len(ahead) <= prefetchFiles {
						continue
					}
					select {
					case files <- ahead[0]:
						ahead = ahead[1:]
					case <-ctx.Done():
						return
					}
				}
				queue[i] = nil // read: its memory can go
			}
			for len(ahead) > 0 {
				select {
				case files <- ahead[0]:
					ahead = ahead[1:]
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	// A file read is held by its folder only, and freed with it once the
	// folder's tree is written.
	lane(b.small, b.o.Readers, true)
	lane(b.large, largeReaders, false) // sequential: the kernel reads ahead
	readers.Wait()
	b.small, b.large = nil, nil // their chunks are gone
	close(jobs)
	workers.Wait()
	finishers.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// readFile slices one file and sends the slices to the workers as they are
// cut, so a large file never sits in memory. Content and Sizes grow under
// f.mu while workers fill in the IDs.
func (b *backupRun) readFile(ctx context.Context, f *fileNode, cp *chunker.Params, chunkBufs chan *chunkerBufs, bufs *slicePools, jobs chan<- sliceJob) {
	fh := f.opened
	f.opened = nil
	if fh == nil {
		var err error
		if fh, err = openSource(f.path(), f.fp.inode, f.top()); err != nil {
			b.fileFailed(f, err)
			return
		}
	}
	defer fh.Close()
	f.meta.Content, f.meta.Sizes = nil, nil
	s := &slicer{ctx: ctx, f: f, jobs: jobs, pause: b.pause}
	send := s.send
	if f.meta.Size < uint64(cp.Sizes().Min) {
		// Small files are one slice, no chunker, and one read of one byte
		// more than the scan saw: all of it, and whether the file grew. A regular file's read is short only at
		// its end, so a second read to see the end is left out (78,000
		// system calls on the corpus) unless the first came back short.
		buf := bufs.Get(int(f.meta.Size) + 1)
		n, err := fh.Read(buf[:f.meta.Size+1])
		if err == nil && n < int(f.meta.Size) {
			var more int
			more, err = io.ReadFull(fh, buf[n:f.meta.Size+1])
			n += more
		}
		switch {
		case err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
			bufs.Put(buf)
			b.fileFailed(f, err)
			return
		case n > int(f.meta.Size): // grew while we read: slice it as a large file
			bufs.Put(buf)
			fh.Seek(0, io.SeekStart)
			b.chunkFile(ctx, f, fh, cp, chunkBufs, bufs, send)
		case n > 0:
			send(sliceJob{data: buf[:n]})
		default:
			bufs.Put(buf)
		}
	} else {
		adviseSequential(fh)
		if prev := b.previousSlices(f); len(prev.ids) > 1 {
			b.resliceFile(s, fh, prev, cp, chunkBufs, bufs)
		} else {
			b.chunkFile(ctx, f, fh, cp, chunkBufs, bufs, send)
		}
	}
	if f.failed {
		return
	}
	// Consistent either way (the session holds what was read, its size and
	// slices), but maybe not what the file was at any one moment: said, as
	// borg does. One fstat a file read, ~1 us.
	if fi, err := fh.Stat(); err == nil && fingerprintOf(fi) != f.fp {
		b.warn(f.path(), errChangedWhileRead)
	}
	f.meta.Size = s.total
	b.bytesRead.Add(int64(s.total))
	if f.changed {
		b.filesChanged.Add(1)
	} else {
		b.filesNew.Add(1)
	}
}

// errChangedWhileRead is the warning for a file whose size or times
// changed between the scan and the end of its read.
var errChangedWhileRead = errors.New("changed while it was read: the session keeps what was read; the next backup reads it again")

// chunkerBufs are what a large-file reader reuses from file to file.
type chunkerBufs struct {
	chunk []byte   // the chunker's
	ahead [][]byte // read-ahead blocks, made for the first file that needs them
}

// fillAhead makes the read-ahead blocks, aligned for O_DIRECT.
func (cb *chunkerBufs) fillAhead() {
	for len(cb.ahead) < aheadBlocks {
		cb.ahead = append(cb.ahead, directio.Buffer(aheadBlockSize))
	}
}

// directReader reads a large file from its start past the page cache
// (O_DIRECT, in readAhead's aligned blocks): the file is read once, and
// every page-cache page costs the kernel, and on virtual machines that
// hand free memory back, the host too. Initial backup of the benchmark
// corpus (its two large files, 1.5 GiB, read so), six interleaved pairs:
// 7.83-9.69 s (mean 8.37), system CPU 3.04-3.27 s, against 8.60-10.43 s
// (9.55) and 4.52-5.46 s. A read the kernel refuses (at an unaligned end
// of file) turns O_DIRECT off and goes through the page cache.
type directReader struct{ fh *os.File }

func (d directReader) Read(p []byte) (int, error) {
	n, err := d.fh.Read(p)
	if errors.Is(err, syscall.EINVAL) && directio.Disable(d.fh) {
		return d.fh.Read(p)
	}
	return n, err
}

// Files of at least readAheadMin bytes are read ahead of their slicing, in
// aheadBlocks blocks of aheadBlockSize bytes. Day-2 backup of the corpus (its
// two large files changed), twelve interleaved pairs: median 1.81 s against
// 2.10 s without.
const (
	readAheadMin   = 16 << 20
	aheadBlockSize = 4 << 20
	aheadBlocks    = 2
)

// chunkFile slices a file with one of the shared chunker buffers.
func (b *backupRun) chunkFile(ctx context.Context, f *fileNode, fh *os.File, cp *chunker.Params, chunkBufs chan *chunkerBufs, bufs *slicePools, send func(sliceJob) bool) {
	var cb *chunkerBufs
	select {
	case cb = <-chunkBufs:
	case <-ctx.Done():
		f.failed = true
		return
	}
	defer func() { chunkBufs <- cb }()
	var r io.Reader = fh
	if f.meta.Size >= readAheadMin {
		cb.fillAhead()
		var src io.Reader = fh
		if directio.Enable(fh) {
			src = directReader{fh}
		}
		ra := newReadAhead(src, cb.ahead)
		defer func() { cb.ahead = ra.Close() }()
		r = ra
	}
	cb.chunk = b.chunkAll(ctx, f, r, cp, cb.chunk, bufs, send)
}

// chunkAll cuts the file into slices and sends each as it is cut.
func (b *backupRun) chunkAll(ctx context.Context, f *fileNode, fh io.Reader, cp *chunker.Params, cbuf []byte, bufs *slicePools, send func(sliceJob) bool) []byte {
	c := chunker.New(cp, fh, cbuf)
	for {
		if ctx.Err() != nil {
			f.failed = true
			return c.Buffer()
		}
		view, err := c.Peek()
		if errors.Is(err, io.EOF) {
			return c.Buffer()
		}
		if err != nil {
			b.fileFailed(f, err)
			return c.Buffer()
		}
		if !send(b.newSlice(view, bufs)) {
			f.failed = true
			return c.Buffer()
		}
	}
}

// newSlice returns the job of a slice the chunker cut (view, the chunker's
// bytes): a copy in a pool buffer, or, for a slice of zeros, zeroSlices'
// shared zeros, named already. The chunker cuts runs of zeros into
// slices of its largest size, which the pools do not keep.
func (b *backupRun) newSlice(view []byte, bufs *slicePools) sliceJob {
	if len(view) >= zeroCheckSize && chunker.IsZero(view) {
		return sliceJob{data: b.zeros.data(len(view)), want: b.zeros.ofSize(b.r.Key(), len(view)), zeros: true}
	}
	return sliceJob{data: append(bufs.Get(len(view)), view...)}
}

// countWaiting sets d.waiting for d and every unsaved folder below it.
func countWaiting(d *dirNode) {
	if d.saved {
		return
	}
	n := int(d.queued.Load())
	for _, c := range d.children {
		if !c.saved {
			n++
			countWaiting(c)
		}
	}
	d.waiting.Store(int32(n))
}

// fileRead is called once a queued file is read and all its slices are
// stored. It puts the file into the register (an entry is used only when
// all its slices are indexed, so it need not wait for the session) and,
// if the file was the last thing its folder waited for, writes the
// folder's tree and frees its entries, then does the same for the parent.
func (b *backupRun) fileRead(ctx context.Context, w *repo.Writer, f *fileNode) error {
	switch {
	case f.failed:
		b.filesDropped.Add(1)
		b.bytesDropped.Add(int64(f.fp.size))
	case f.meta.Size != f.fp.size: // changed size while read: the session has what was read
		b.bytesDropped.Add(int64(f.fp.size) - int64(f.meta.Size))
	}
	if b.reg != nil && !f.failed && f.meta.Size == f.fp.size { // changed while read: read it again next time
		n := snapshot.Node{Content: f.meta.Content, Sizes: f.meta.Sizes, Xattrs: f.meta.Xattrs}
		b.reg.store([]byte(f.path()), encodeRegisterValue(f.fp, &n, b.reg.run))
	}
	if !f.failed {
		f.dir.mu.Lock()
		f.dir.files = append(f.dir.files, f)
		f.dir.mu.Unlock()
	}
	// Folders above the scanned paths have no parent link: they are
	// written last, by Backup.
	for d := f.dir; d != nil && d.waiting.Add(-1) == 0; d = d.parent {
		if ctx.Err() != nil {
			return nil
		}
		if err := b.writeTree(ctx, w, d); err != nil {
			return err
		}
	}
	return nil
}

func (b *backupRun) fileFailed(f *fileNode, err error) {
	f.failed = true
	b.warn(f.path(), err)
}

// saveDir stores the trees of d and below, children first. The tree is
// encoded entry by entry in name order: a []snapshot.Node of a folder of
// a million files took ~250 MB on top of its entries.
func (b *backupRun) saveDir(ctx context.Context, w *repo.Writer, d *dirNode) (blob.ID, error) {
	if d.saved {
		return d.node.Subtree, nil
	}
	for _, c := range d.children {
		id, err := b.saveDir(ctx, w, c)
		if err != nil {
			return id, err
		}
		c.node.Subtree = id
	}
	// Entries by name: which list and where in it.
	type entry struct {
		name string
		list uint8 // 0 children, 1 files, 2 others
		i    int32
	}
	entries := make([]entry, 0, len(d.children)+len(d.files)+len(d.others))
	for i, c := range d.children {
		entries = append(entries, entry{c.node.Name, 0, int32(i)})
	}
	for i, f := range d.files {
		if !f.failed {
			entries = append(entries, entry{f.meta.Name, 1, int32(i)})
		}
	}
	for i := range d.others {
		entries = append(entries, entry{d.others[i].Name, 2, int32(i)})
	}
	slices.SortFunc(entries, func(x, y entry) int { return strings.Compare(x.name, y.name) })
	enc := snapshot.NewTreeEncoder(len(entries))
	for _, e := range entries {
		switch e.list {
		case 0:
			enc.Add(&d.children[e.i].node)
		case 1:
			n := d.files[e.i].meta.node(b.names)
			enc.Add(&n)
		default:
			enc.Add(&d.others[e.i])
		}
	}
	return b.saveTree(ctx, w, d, enc.Bytes())
}

// saveTree stores the tree of the folder d unless the register says the
// repository has it: the folder's entry holds the tree ID the last run
// stored, trusted like a file's entry. A changed folder's tree is stored
// without loading the index if the run has not loaded it: at worst it
// duplicates a tree already stored, which check accepts and prune would
// drop (DESIGN.md: a duplicate is never a correctness problem). A folder
// the register has no trusted entry for loads the index first: after an
// upgrade or a prune, every tree would be stored again otherwise.
func (b *backupRun) saveTree(ctx context.Context, w *repo.Writer, d *dirNode, tree []byte) (blob.ID, error) {
	if b.reg == nil {
		if err := b.needIndex(ctx); err != nil {
			return blob.ID{}, err
		}
		id, _, err := w.SaveBlob(ctx, blob.Tree, tree)
		return id, err
	}
	key := []byte(dirKeyPrefix + d.path)
	var last blob.ID
	var gen uint64
	var known bool
	b.reg.view(key, func(v []byte) { gen, last, known = decodeDirValue(v) })
	trusted := known && b.reg.trusts(gen) && !b.o.Force
	id := b.r.Key().ID(tree)
	if trusted && id == last {
		return id, nil
	}
	if !trusted {
		if err := b.needIndex(ctx); err != nil {
			return id, err
		}
	}
	if _, _, err := w.SaveBlob(ctx, blob.Tree, tree); err != nil {
		return id, err
	}
	b.reg.put(key, encodeDirValue(id, b.reg.run))
	return id, nil
}

// updateRegister writes the register entries not written yet (files put
// as they were found or read) and records that the run completed, with
// the index files that list their slices. Failures only cost speed next
// time, so they are ignored.
func (b *backupRun) updateRegister(ctx context.Context, sessions map[string]sessionSeen) {
	if b.reg == nil {
		return
	}
	if b.reg.flush() != nil {
		return
	}
	if names, err := b.r.ListIndexFiles(ctx); err == nil {
		b.reg.complete(names, sessions)
	}
}

// parentSearch is what findParent found: the parent's ID ("" if none) and
// the device's sessions (nil if they could not be listed).
type parentSearch struct {
	parent   string
	sessions map[string]sessionSeen
}

// findParent finds the newest session of the backup's device and data
// source. Of the device's sessions it reads only those not in known, the
// ones the register's last run knew of. A device backed up daily for three
// years has a thousand sessions: a thousand requests to an S3 store each
// time; locally, with 600, a cold backup of a small folder took 0.12-0.14 s
// and takes 0.07-0.09 s. It runs while the scan does: the parent is only
// named in the session.
func (b *backupRun) findParent(ctx context.Context, known map[string]sessionSeen) parentSearch {
	refs, err := b.r.SessionRefs(ctx, b.o.Device)
	if err != nil {
		return parentSearch{}
	}
	var found parentSearch
	found.sessions = make(map[string]sessionSeen, len(refs)+1)
	var newest sessionSeen
	for _, ref := range refs {
		seen, ok := known[ref.Name]
		if !ok {
			if ctx.Err() != nil {
				return parentSearch{}
			}
			s, err := snapshot.LoadSession(ctx, b.r, ref)
			if err != nil {
				continue // damaged: check names it
			}
			seen = sessionSeen{time: s.Time.UnixNano(), source: s.Source}
		}
		found.sessions[ref.Name] = seen
		// Newest by time, then ID, as snapshot.SortSessions orders them.
		if seen.source == b.o.Source && (found.parent == "" || seen.time > newest.time ||
			seen.time == newest.time && ref.Name > found.parent) {
			found.parent, newest = ref.Name, seen
		}
	}
	return found
}

// dropNested removes repeated paths and paths inside another one: both
// would be scanned twice into the same folder, and a tree with repeated
// names is refused by every reader.
func dropNested(paths []string) []string {
	sorted := append([]string(nil), paths...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) < len(sorted[j]) })
	var kept []string
	for _, p := range sorted {
		inside := false
		for _, k := range kept {
			if rel, err := filepath.Rel(k, p); err == nil && (rel == "." || rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))) {
				inside = true
				break
			}
		}
		if !inside {
			kept = append(kept, p)
		}
	}
	// Keep the order the paths were given in.
	var out []string
	for _, p := range paths {
		for i, k := range kept {
			if k == p {
				out = append(out, p)
				kept = append(kept[:i], kept[i+1:]...)
				break
			}
		}
	}
	return out
}

// splitPath returns the components of an absolute path below its volume root.
func splitPath(a string) []string {
	rest := strings.TrimPrefix(filepath.ToSlash(a[len(filepath.VolumeName(a)):]), "/")
	if rest == "" {
		return nil
	}
	return strings.Split(rest, "/")
}

func volumeRoot(a string) string {
	return filepath.VolumeName(a) + string(filepath.Separator)
}
