package engine

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
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

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/chunker"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// Overwrite policies for files that exist at the restore target.
const (
	OverwriteNever     = "never"
	OverwriteIfChanged = "if-changed"
	OverwriteAlways    = "always"
)

// RestoreOptions describe a restore.
type RestoreOptions struct {
	// Target is the folder the session's paths are restored below; "" (or
	// "/") restores to the original locations.
	Target    string
	Include   []string // patterns (see Match) on the original path; none = all
	Exclude   []string
	Overwrite string // OverwriteNever, OverwriteIfChanged (default), OverwriteAlways
	Verify    bool   // re-read restored files and compare with the repository
	// Workers write whole files (default twice the cores); the large
	// files' ranges have largeWorkers more.
	Workers int
	// LockDir is where the restore announces itself while it runs: the
	// backups of this device that name it too wait (see pause.go).
	LockDir string
	// Warn is called for each file or folder that could not be restored.
	Warn func(path string, err error)
	// Progress is called about every ProgressEvery.
	Progress      func(RestoreProgress)
	ProgressEvery time.Duration
}

// RestoreProgress is a running view of a restore.
type RestoreProgress struct {
	FilesTotal, FilesDone int64
	BytesTotal, BytesDone int64
}

// RestoreStats summarise a restore.
type RestoreStats struct {
	Files        int64 `json:"files"`
	Dirs         int64 `json:"dirs"`
	Links        int64 `json:"links"`
	Bytes        int64 `json:"bytes"`
	Skipped      int64 `json:"skipped"`
	Verified     int64 `json:"verified"`
	Warnings     int64 `json:"warnings"`
	VerifyFailed int64 `json:"verify_failed"`
}

type restoreFile struct {
	node *snapshot.Node
	path string
	// fresh: its folder was created by this restore, so nothing can be in
	// the file's place and createFile need not look.
	fresh bool
	left  atomic.Int32 // parts still to write
	// metaDone: the worker that wrote the file whole set its metadata.
	metaDone bool
	// failed is set when a part could not be written (damaged or missing
	// data): the file keeps what could be written but not the session's
	// size-and-time look, so a later if-changed restore tries it again.
	failed atomic.Bool
	// created makes a file of one part once, by whichever creator comes
	// first (see rr.early); createErr is what that met.
	created   sync.Once
	createErr error
}

// restorePart is one worker's job: a whole file of at most partSlices
// slices, or an aligned range of a larger one.
type restorePart struct {
	f          *restoreFile
	first, end int   // slice range
	offset     int64 // file offset of the first slice
	// from, to: for a large file, the aligned byte range this part writes
	// (see rangeBytes); the first and last slices may reach beyond it.
	// to is 0 for a whole file.
	from, to int64
	// createErr is what creating a whole file met (createFiles)
	createErr error
}

type restoreRun struct {
	// stats first: some of its counters are added to atomically, which
	// 32-bit platforms allow only at 64-bit aligned addresses, and the
	// first word of an allocated struct is one (sync/atomic).
	stats RestoreStats
	r     *repo.Repository
	o     RestoreOptions
	warnN atomic.Int64
	// the compiled o.Include and o.Exclude
	include, exclude patterns
	// selectedSome is set once the include patterns select an entry.
	selectedSome bool

	files []*restoreFile
	dirs  []dirMeta
	// metaOnly are files if-changed skipped whose metadata may differ
	// from the session's: it is set after the files are written.
	metaOnly []dirMeta
	// replace are symlinks and other nodes where something is in the
	// target already: made once plan has succeeded.
	replace []dirMeta
	// unlocked are folders already in the target that their owner could
	// not write (a read-only folder restored before): plan made them
	// writable, relock gives them their mode back.
	unlocked []unlockedDir
	// kept are folders already in the target that plan walked through
	// without selecting them: they keep their own time, which restoring
	// into them changes.
	kept []keptDir
	// topDirs are the folders markTopDir flagged: the tops of the trees
	// this restore made, cleared once plan has made the folders below.
	topDirs []string
	// spreadIn is the folder markTop flagged last: folders made in it
	// are made by mkdirSpread.
	spreadIn  string
	hardlinks []hardlink
	firstLink map[[2]uint64]string
	root      bool // running as root: restore ownership
	// large receives the files of more than one part, or of directBytes
	// or more, as plan finds them (writeFiles); the others go to files.
	// largeFiles keeps them for verify.
	large      chan *restoreFile
	largeFiles []*restoreFile
	// early receives the files of one part in folders this restore made
	// as plan finds them, to be created before they are written in cabinet
	// order (see createEarly).
	early      chan *restoreFile
	filesTotal atomic.Int64 // progress totals, counted by plan
	bytesTotal atomic.Int64
	filesDone  atomic.Int64
	bytesDone  atomic.Int64
}

type dirMeta struct {
	node *snapshot.Node
	path string
}

type hardlink struct {
	target, path string
}

// ErrUnsafePath is wrapped when a tree names an entry that would be
// written outside the restore target.
var ErrUnsafePath = errors.New("unsafe entry name in tree")

// localName reports why name, valid in a session (snapshot.ValidName),
// cannot be a name in a folder of this system: on Windows a Linux file
// named `..\..\evil` went through filepath.Join to a path outside the
// target, and one with ':' names an alternate data stream or a drive
// (`C:x`). Such an entry is skipped with a warning.
func localName(name string) error {
	if !filepath.IsLocal(name) || name == "." {
		return fmt.Errorf("name %q is not a plain file name on %s; skipped", name, runtime.GOOS)
	}
	for i := 0; i < len(name); i++ {
		if os.IsPathSeparator(name[i]) || (runtime.GOOS == "windows" && name[i] == ':') {
			return fmt.Errorf("name %q contains %q, which %s reads as part of a path; skipped", name, name[i], runtime.GOOS)
		}
	}
	return nil
}

// ErrNothingRestored is returned when the restore wrote nothing and warned
// (every folder or file failed: a read-only target, say).
var ErrNothingRestored = errors.New("nothing could be restored")

// ErrNothingSelected is returned when include patterns match nothing in
// the session: nothing is restored.
var ErrNothingSelected = errors.New("nothing in the session matches the include patterns")

// Restore writes session s (or the parts selected) below o.Target.
func Restore(ctx context.Context, r *repo.Repository, s *snapshot.Session, o RestoreOptions) (RestoreStats, error) {
	if o.Overwrite == "" {
		o.Overwrite = OverwriteIfChanged
	}
	switch o.Overwrite {
	case OverwriteNever, OverwriteIfChanged, OverwriteAlways:
	default:
		return RestoreStats{}, fmt.Errorf("unknown overwrite policy %q: use never, if-changed or always", o.Overwrite)
	}
	if o.Workers <= 0 {
		o.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if o.Warn == nil {
		o.Warn = func(string, error) {}
	}
	target := o.Target
	if target == "" {
		target = string(filepath.Separator)
	}
	target, err := filepath.Abs(target)
	if err != nil {
		return RestoreStats{}, err
	}
	include, err := compilePatterns("include", o.Include)
	if err != nil {
		return RestoreStats{}, err
	}
	exclude, err := compilePatterns("exclude", o.Exclude)
	if err != nil {
		return RestoreStats{}, err
	}
	if err := r.LoadIndex(ctx); err != nil {
		return RestoreStats{}, err
	}
	rr := &restoreRun{r: r, o: o, firstLink: map[[2]uint64]string{}, root: os.Geteuid() == 0,
		include: include, exclude: exclude}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return RestoreStats{}, fmt.Errorf("restore target %s: %w", target, err)
	}
	// Pausing the backups is a courtesy: a lock that cannot be taken (a
	// read-only cache folder) does not stop the restore.
	if release, err := holdRestorePause(o.LockDir); err == nil {
		defer release()
	}
	stop := rr.reportProgress(ctx)
	err = rr.writeFiles(ctx, func(ctx context.Context) error {
		defer rr.clearTops()
		return rr.plan(ctx, s.Tree, target, "/", false, nil)
	})
	stop()
	if err != nil {
		rr.relock()
		return rr.stats, err
	}
	if len(include) > 0 && !rr.selectedSome {
		rr.relock()
		return rr.stats, fmt.Errorf("%w (%s): nothing restored", ErrNothingSelected, strings.Join(o.Include, ", "))
	}
	for _, d := range rr.replace {
		rr.makeNode(d.path, d.node, true)
	}
	for _, h := range rr.hardlinks {
		remove(h.path)
		err := link(h.target, h.path)
		if errors.Is(err, os.ErrExist) && !sameFile(h.target, h.path) {
			// Made again since the remove: another restore into this
			// target (the same link, which sameFile sees) or a program.
			remove(h.path)
			err = link(h.target, h.path)
		}
		if err != nil && !(errors.Is(err, os.ErrExist) && sameFile(h.target, h.path)) {
			rr.warn(h.path, err)
			continue
		}
		rr.stats.Links++
	}
	for _, m := range rr.metaOnly {
		rr.applyMeta(m.path, m.node)
	}
	rr.relock()
	// Folder metadata last (deepest first), so writing files does not
	// change folder times and read-only folders can still be filled.
	sort.Slice(rr.dirs, func(i, j int) bool { return len(rr.dirs[i].path) > len(rr.dirs[j].path) })
	for _, d := range rr.dirs {
		rr.applyMeta(d.path, d.node)
	}
	for _, d := range rr.kept {
		if err := inPath(d.path, func(p string) error { return os.Chtimes(p, time.Time{}, d.mtime) }); err != nil {
			rr.warn(d.path, err)
		}
	}
	if o.Verify {
		rr.verify(ctx)
	}
	rr.stats.Warnings = rr.warnN.Load()
	if st := rr.stats; st.Warnings > 0 && st.Files+st.Dirs+st.Links+st.Skipped == 0 {
		// Every write failed (a read-only target, say): not a restore that
		// finished with warnings.
		return rr.stats, fmt.Errorf("%w into %s (see the warnings above)", ErrNothingRestored, target)
	}
	return rr.stats, nil
}

// markTop flags path, a folder this restore made in one it did not, as
// the top of a new tree for the file system's allocator (markTopDir).
func (rr *restoreRun) markTop(path string) {
	if markTopDir(path) {
		rr.topDirs = append(rr.topDirs, path)
		rr.spreadIn = path
	}
}

// clearTops takes markTop's flags off: every folder below is made.
func (rr *restoreRun) clearTops() {
	for _, p := range rr.topDirs {
		clearTopDir(p)
	}
	rr.topDirs = nil
}

func (rr *restoreRun) warn(path string, err error) {
	rr.warnN.Add(1)
	rr.o.Warn(path, err)
}

func (rr *restoreRun) selected(orig string, isDir bool) (take, descend bool) {
	if len(rr.exclude)+len(rr.include) == 0 {
		return true, true
	}
	names := pathNames(orig)
	switch {
	case rr.exclude.match(names):
		return false, false
	case len(rr.include) == 0 || rr.include.match(names):
		return true, true
	case isDir && rr.include.mayMatchBelow(names):
		return false, true // a folder that may hold included paths is walked into
	}
	return false, false
}

// plan walks tree treeID into dir: it creates folders, symlinks and other
// nodes and queues files for writeFiles. fresh says dir was just created by
// this restore: it is empty, so its files need no check for what is
// already there (two system calls per file saved on a restore to a new
// target). pending is set when dir does not exist yet: it lies on the way
// to what include patterns may select, and is made only when something
// below it is restored (no tree of empty folders for an include that
// matches a few files).
func (rr *restoreRun) plan(ctx context.Context, treeID blob.ID, dir, orig string, fresh bool, pending *pendingDir) error {
	t, err := snapshot.LoadTree(ctx, rr.r, treeID)
	if err != nil {
		return err
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if err := snapshot.ValidName(n.Name); err != nil {
			return fmt.Errorf("%w: tree %s below %s: %v; refusing to restore it", ErrUnsafePath, treeID.Short(), orig, err)
		}
		path := filepath.Join(dir, n.Name)
		origPath := strings.TrimSuffix(orig, "/") + "/" + n.Name
		take, descend := rr.selected(origPath, n.Type == snapshot.TypeDir)
		if !take && !descend {
			continue
		}
		if err := localName(n.Name); err != nil {
			rr.warn(origPath, err)
			continue
		}
		rr.selectedSome = rr.selectedSome || take
		if !take {
			// Only a folder gets here: one on the way to what may be selected.
			if pending != nil {
				if err := rr.plan(ctx, n.Subtree, path, origPath, true, &pendingDir{parent: pending, path: path, node: n}); err != nil {
					return err
				}
				continue
			}
			if _, err := lstat(path); errors.Is(err, os.ErrNotExist) {
				if err := rr.plan(ctx, n.Subtree, path, origPath, true, &pendingDir{path: path, node: n}); err != nil {
					return err
				}
				continue
			}
		}
		if !rr.made(pending) {
			continue
		}
		if pending.existed() {
			// Another restore made it meanwhile (see made): what is in
			// it is looked at like what is in any folder already there.
			fresh = false
		}
		switch n.Type {
		case snapshot.TypeDir:
			var err error
			if dir == rr.spreadIn {
				err = mkdirSpread(path, 0o700)
			} else {
				err = mkdir(path, 0o700)
			}
			if err != nil && !errors.Is(err, os.ErrExist) {
				rr.warn(path, err)
				continue
			}
			created := err == nil
			if created && !fresh {
				rr.markTop(path)
			}
			if !created {
				fi, err := lstat(path)
				if err != nil || !fi.IsDir() {
					rr.warn(path, fmt.Errorf("exists and is not a folder"))
					continue
				}
				rr.unlock(path, fi)
				if !take {
					rr.kept = append(rr.kept, keptDir{path: path, mtime: fi.ModTime()})
				}
			}
			if err := rr.plan(ctx, n.Subtree, path, origPath, created, nil); err != nil {
				return err
			}
			// A folder made on the way to what is selected gets its stored
			// metadata too; one that was there keeps its own.
			if take || created {
				rr.dirs = append(rr.dirs, dirMeta{node: n, path: path})
			}
			if take {
				rr.stats.Dirs++
			}
		case snapshot.TypeFile:
			if !take {
				continue
			}
			if missing := rr.missingSlices(n); missing > 0 {
				rr.warn(path, fmt.Errorf("%d of its %d slices are missing from the repository (%w): not restored, and a file already there is left as it is; 'cabinet check' lists what is lost", missing, len(n.Content), repo.ErrBlobNotFound))
				continue
			}
			if n.Links > 1 {
				key := [2]uint64{n.DeviceID, n.Inode}
				if first, ok := rr.firstLink[key]; ok {
					if _, err := lstat(path); err == nil && rr.o.Overwrite == OverwriteNever {
						rr.stats.Skipped++
						continue
					}
					rr.hardlinks = append(rr.hardlinks, hardlink{target: first, path: path})
					continue
				}
				rr.firstLink[key] = path
			}
			if !fresh && rr.skipExisting(path, n) {
				rr.stats.Skipped++
				continue
			}
			f := &restoreFile{node: n, path: path, fresh: fresh}
			rr.filesTotal.Add(1)
			rr.bytesTotal.Add(int64(n.Size))
			if len(n.Content) <= partSlices && n.Size < directBytes {
				rr.files = append(rr.files, f)
				if fresh {
					// A file already in the target is truncated only once
					// plan has succeeded (createFiles): a restore that
					// fails while planning leaves it as it was.
					select {
					case rr.early <- f:
					default: // created in cabinet order (createFiles)
					}
				}
				continue
			}
			select {
			case rr.large <- f:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		case snapshot.TypeSymlink:
			if !take {
				continue
			}
			if !fresh {
				if _, err := lstat(path); err == nil {
					if rr.o.Overwrite == OverwriteNever {
						rr.stats.Skipped++
						continue
					}
					// Replaced once plan has succeeded, like files.
					rr.replace = append(rr.replace, dirMeta{node: n, path: path})
					continue
				}
			}
			rr.makeNode(path, n, false)
		default:
			if take {
				if !fresh {
					if _, err := lstat(path); err == nil {
						if rr.o.Overwrite == OverwriteNever {
							rr.stats.Skipped++
						} else {
							rr.replace = append(rr.replace, dirMeta{node: n, path: path})
						}
						continue
					}
				}
				rr.makeNode(path, n, false)
			}
		}
	}
	return nil
}

// missingSlices counts the slices of n the index lacks: lost with a
// cabinet that went missing or was damaged ('cabinet repair index' leaves
// them out). Such a file is not restored: written, it would have zeros
// where the lost slices were and replace a file already in the target.
func (rr *restoreRun) missingSlices(n *snapshot.Node) int {
	missing := 0
	for _, id := range n.Content {
		if !rr.r.Index().Has(id) {
			missing++
		}
	}
	return missing
}

// makeNode makes a symlink, FIFO or device node at path, replacing what
// is there (see rr.replace), and sets its metadata.
func (rr *restoreRun) makeNode(path string, n *snapshot.Node, replace bool) {
	if n.Type == snapshot.TypeSymlink {
		if replace {
			remove(path)
		}
		err := symlink(n.Target, path)
		if errors.Is(err, os.ErrExist) && !replace {
			// Made since plan looked (another restore into this target).
			remove(path)
			err = symlink(n.Target, path)
		}
		if err != nil {
			rr.warn(path, err)
			return
		}
		rr.applyMeta(path, n)
		return
	}
	made, err := makeSpecial(path, n)
	if err != nil {
		rr.warn(path, err)
		return
	}
	if made {
		rr.applyMeta(path, n)
	}
}

type keptDir struct {
	path  string
	mtime time.Time
}

type unlockedDir struct {
	path string
	mode os.FileMode
}

// unlock makes the folder at path, which fi describes, writable for its
// owner if it is not, so what is missing in it can be restored; relock,
// once the files are written, gives it its mode back (and the folder's
// metadata from the session follows). Read-only folders are common in
// restores over a previous one: a Go module cache, a read-only share.
func (rr *restoreRun) unlock(path string, fi os.FileInfo) {
	if fi.Mode().Perm()&0o300 == 0o300 {
		return
	}
	if inPath(path, func(p string) error { return os.Chmod(p, fi.Mode()|0o700) }) == nil {
		rr.unlocked = append(rr.unlocked, unlockedDir{path: path, mode: fi.Mode()})
	}
}

// relock gives the folders unlock changed their modes back, those inside
// others first (unlock met them after).
func (rr *restoreRun) relock() {
	for _, d := range slices.Backward(rr.unlocked) {
		if err := inPath(d.path, func(p string) error { return os.Chmod(p, d.mode) }); err != nil {
			rr.warn(d.path, err)
		}
	}
	rr.unlocked = nil
}

// sameFile reports whether paths a and b name one file.
func sameFile(a, b string) bool {
	fa, err := lstat(a)
	if err != nil {
		return false
	}
	fb, err := lstat(b)
	return err == nil && os.SameFile(fa, fb)
}

// pendingDir is a folder that plan makes only once something below it is
// restored, with the pending folders above it.
type pendingDir struct {
	parent *pendingDir
	path   string
	node   *snapshot.Node
	made   bool
	failed bool // made failed and was reported
	// there: it was there when made tried to make it (another restore
	// into the same target made it since plan looked)
	there bool
}

// existed reports whether d or a pending folder above it was there
// already when made tried to make it.
func (d *pendingDir) existed() bool {
	for ; d != nil; d = d.parent {
		if d.there {
			return true
		}
	}
	return false
}

// made makes d and the pending folders above it, once, and reports whether
// d is there (a nil d is).
func (rr *restoreRun) made(d *pendingDir) bool {
	switch {
	case d == nil || d.made:
		return true
	case d.failed || !rr.made(d.parent):
		return false
	}
	mk := mkdir
	if rr.spreadIn != "" && filepath.Dir(d.path) == rr.spreadIn {
		mk = mkdirSpread // as the walk makes folders there (see markTop)
	}
	if err := mk(d.path, 0o700); err != nil {
		if fi, lerr := lstat(d.path); errors.Is(err, os.ErrExist) && lerr == nil && fi.IsDir() {
			// Made since plan looked: by another restore into this target.
			d.there = true
			rr.unlock(d.path, fi)
		} else {
			rr.warn(d.path, err)
			d.failed = true
			return false
		}
	}
	d.made = true
	if d.parent == nil && !d.there {
		rr.markTop(d.path)
	}
	rr.dirs = append(rr.dirs, dirMeta{node: d.node, path: d.path}) // its stored metadata, last
	return true
}

func (rr *restoreRun) skipExisting(path string, n *snapshot.Node) bool {
	fi, err := lstat(path)
	if err != nil {
		return false
	}
	switch rr.o.Overwrite {
	case OverwriteNever:
		return true
	case OverwriteIfChanged:
		if !fi.Mode().IsRegular() || uint64(fi.Size()) != n.Size || fi.ModTime().UnixNano() != n.ModTime {
			return false
		}
		// Its content is taken for the session's, but its mode, owner
		// and attributes are the session's too: they are set once the
		// files are written (metaOnly), unless they are so already.
		if len(n.Xattrs) > 0 || fi.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != fileMode(n.Mode) ||
			(rr.root && !sameOwner(fi, n)) {
			rr.metaOnly = append(rr.metaOnly, dirMeta{node: n, path: path})
		}
		return true
	}
	return false
}

// partSlices is how many slices one restore job writes.
const partSlices = 16

// directBytes is the size from which a file goes the large files' way,
// written in aligned ranges past the page cache (rangeWriter), though it
// is one part. Every page a buffered write fills is a new page the
// kernel must find and zero, and on the benchmark's VM that was a fifth
// of the restore's CPU samples, about 10 µs a page (likely the host
// backing the page again: the VM's balloon reports free pages). Files of
// 256 KiB and more are a third of the benchmark's source-tree bytes in
// 264 files. Restore of the corpus right after the previous one was
// deleted, five interleaved pairs: 4.81-5.46 s against 5.25-5.98 s,
// system CPU 4.1-4.5 against 5.3-7.3 s; 128 KiB and 1 MiB no better.
const directBytes = 256 << 10

func (rr *restoreRun) writeFiles(ctx context.Context, plan func(context.Context) error) error {
	parts := make(chan restorePart, rr.o.Workers)
	ranges := make(chan restorePart, largeWorkers)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := func(p restorePart, buf, stage []byte) ([]byte, []byte) {
		if ctx.Err() != nil {
			return buf, stage
		}
		var err error
		if p.to > 0 {
			if stage == nil {
				stage = newStage()
			}
			buf, err = rr.writeRange(ctx, p, buf, stage)
		} else {
			buf, err = rr.writePart(ctx, p, buf)
		}
		var skip skipError
		switch {
		case err == nil:
		case errors.As(err, &skip):
			// Nothing was written: no metadata, no verify, and one
			// warning for a file of many parts.
			if !p.f.failed.Swap(true) {
				rr.warn(p.f.path, skip.err)
			}
			return buf, stage
		case errors.Is(err, repo.ErrDamaged) || errors.Is(err, repo.ErrBlobNotFound) || errors.Is(err, backend.ErrNotFound):
			// Lost data costs the files that use it, not the restore.
			p.f.failed.Store(true)
			rr.warn(p.f.path, err)
		default:
			// Not finished: no metadata, so the file does not look
			// restored to the next if-changed restore (a large one
			// has its full size from the start).
			p.f.failed.Store(true)
			cancel(fmt.Errorf("restore %s: %w", p.f.path, err))
		}
		if p.f.left.Add(-1) == 0 {
			rr.finishFile(p.f)
		}
		return buf, stage
	}
	var wg sync.WaitGroup
	// The large files' ranges have workers of their own, which then help
	// with the other files: ranges wait mostly on the disk, whole files
	// mostly on the cores, and with one set of workers for both the small
	// files waited while every worker waited on the disk.
	worker := func(lanes ...<-chan restorePart) {
		defer wg.Done()
		var buf, stage []byte
		for _, lane := range lanes {
			for p := range lane {
				buf, stage = work(p, buf, stage)
			}
		}
	}
	for range largeWorkers {
		wg.Add(1)
		go worker(ranges, parts)
	}
	for range rr.o.Workers {
		wg.Add(1)
		go worker(parts)
	}
	rr.feed(ctx, cancel, plan, parts, ranges)
	close(parts)
	wg.Wait()
	return context.Cause(ctx)
}

// largeWorkers is how many workers write the large files' ranges.
const largeWorkers = 2

// feed hands the workers the parts of every file plan finds.
func (rr *restoreRun) feed(ctx context.Context, cancel context.CancelCauseFunc, plan func(context.Context) error, parts, ranges chan<- restorePart) {
	// Large files (more than one part, or directBytes) in folders this
	// restore made are written as plan finds them, so they, most of the
	// bytes, start while plan still reads trees and makes folders (0.9 s
	// of a 4.5 s corpus restore); the others once plan has found them all
	// (and the small ones in cabinet order; createEarly makes those in
	// new folders meanwhile). Nothing already in the target is truncated
	// before plan has succeeded.
	rr.large = make(chan *restoreFile, 1024)
	rr.early = make(chan *restoreFile, earlyFiles)
	planned := make(chan struct{})
	go func() {
		defer close(planned)
		if err := plan(ctx); err != nil {
			// Before the channels close: the large files held back below
			// must see a failed plan.
			cancel(err)
		}
		close(rr.early)
		close(rr.large)
	}()
	earlyDone := make(chan struct{})
	go func() {
		defer close(earlyDone)
		rr.createEarly(ctx)
	}()
	defer func() { <-earlyDone }()
	largeFed := make(chan struct{})
	go func() {
		defer close(largeFed)
		defer close(ranges)
		// A large file already in the target is truncated (and sized) only
		// once plan has succeeded, like the small ones: a restore that
		// fails while planning leaves it as it was.
		var held []*restoreFile
		for f := range rr.large {
			rr.largeFiles = append(rr.largeFiles, f)
			if !f.fresh {
				held = append(held, f)
			} else if ctx.Err() == nil {
				rr.feedLarge(ctx, cancel, f, ranges)
			}
		}
		for _, f := range held {
			if ctx.Err() == nil {
				rr.feedLarge(ctx, cancel, f, ranges)
			}
		}
	}()
	<-planned
	// The other files go to the workers beside the large files' ranges:
	// those wait mostly on the disk, creating small files mostly on the
	// cores.
	rr.orderFiles()
	rr.createFiles(ctx, parts)
	<-largeFed
}

// createFiles creates the whole files createEarly has not made yet
// (rr.files, in that order) and hands them to the workers, which write
// them. Files of one folder are created by one creator (and createEarly,
// which is mostly ahead), not by the workers: creating a file holds its
// folder's lock, and workers creating files side by side in one folder
// spun on it.
//
// Measured where inode allocation is slow (ext4 without a journal, right
// after a restore of the corpus was deleted: it skips recently deleted
// inodes one by one): workers creating their own files spent 20 % of the
// CPU samples in rwsem_spin_on_owner, 7.10-8.85 s, system CPU 10.1-13.5 s;
// four creators (one a worker) no spinning but more allocation work,
// 9.11-10.32 s; one creator 6.57-7.31 s, system CPU 6.8-7.7 s (against
// 6.62-8.85 s and 9.0-13.5 s, five interleaved pairs). Into a new file
// system the same as before (3.21-3.34 s against 3.11-3.60). So one
// creator for every two cores.
func (rr *restoreRun) createFiles(ctx context.Context, parts chan<- restorePart) {
	// Created files wait here for a worker, so creating runs ahead while
	// the workers write the large files' ranges (see createAhead).
	created := make(chan restorePart, createAhead)
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for p := range created {
			select {
			case parts <- p:
			case <-ctx.Done():
			}
		}
	}()
	defer func() { <-forwarded }()
	defer close(created)
	shards := make([]chan *restoreFile, max(1, runtime.GOMAXPROCS(0)/2))
	var creators sync.WaitGroup
	for i := range shards {
		shards[i] = make(chan *restoreFile, 64)
		creators.Add(1)
		go func(files <-chan *restoreFile) {
			defer creators.Done()
			for f := range files {
				p := restorePart{f: f, first: 0, end: len(f.node.Content), createErr: context.Canceled}
				if ctx.Err() == nil {
					p.createErr = rr.create(f)
				}
				select {
				case created <- p:
				case <-ctx.Done():
				}
			}
		}(shards[i])
	}
	seed := maphash.MakeSeed()
	for _, f := range rr.files {
		f.left.Store(1)
		shard := shards[maphash.String(seed, filepath.Dir(f.path))%uint64(len(shards))]
		select {
		case shard <- f:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, shard := range shards {
		close(shard)
	}
	creators.Wait()
}

// create makes a file of one part, unless createEarly has. It is closed
// at once: the worker opens it again (an open costs little beside the
// create), and files waiting hold no descriptors.
func (rr *restoreRun) create(f *restoreFile) error {
	f.created.Do(func() {
		var fh *os.File
		if fh, f.createErr = rr.createFile(f, false); fh != nil {
			fh.Close()
		}
	})
	return f.createErr
}

// createEarly creates the files of one part in the order plan finds them
// (rr.early), while plan still reads trees and the workers write the
// large files: their ranges wait mostly on the disk, creating files
// mostly on the cores. createFiles, which hands the files to the workers
// in cabinet order once plan is done, creates those not made yet. Before,
// creating began only then, and it held up the small files' writes: of a
// corpus restore's 4.5 s, plan took 0.9, and the one creator made 30,000
// files a second while the workers wrote them as fast. Restore of the
// corpus right after the previous one was deleted, six interleaved pairs:
// median 4.85 s against 5.35 (35 s after: 5.10-5.32 against 5.54-5.58);
// into a new file system 0.1-0.2 s slower (4.19-4.51 against 4.03-4.25).
func (rr *restoreRun) createEarly(ctx context.Context) {
	for f := range rr.early {
		if ctx.Err() == nil {
			rr.create(f)
		}
	}
}

// earlyFiles is how many files plan may find ahead of createEarly; the
// others are created in cabinet order.
const earlyFiles = 1 << 16

// createAhead is how many created files may wait for a worker. Creating
// a file is mostly system CPU (ext4's inode allocation), writing the large
// files' ranges mostly waiting on the disk, and the large ones go first:
// with room for 256 the small files were created after them, with 16,384
// while the disk was busy with them. Restore of the corpus right after a
// restore of it was deleted, interleaved runs: 4.06-4.44 s against
// 4.59-5.66 (256) and 4.88-5.82 s (creators handing files straight to
// the workers).
const createAhead = 16384

// feedLarge creates a large file (see rr.large) and hands its parts, its
// aligned ranges of rangeBytes, to the workers.
func (rr *restoreRun) feedLarge(ctx context.Context, cancel context.CancelCauseFunc, f *restoreFile, parts chan<- restorePart) {
	n := len(f.node.Content)
	fh, err := rr.createFile(f, true)
	var skip skipError
	if errors.As(err, &skip) {
		f.failed.Store(true) // not verified
		rr.warn(f.path, skip.err)
		return
	}
	if err != nil {
		cancel(fmt.Errorf("restore %s: %w", f.path, err))
		return
	}
	fh.Close()
	size := int64(f.node.Size)
	f.left.Store(int32((size + rangeBytes - 1) / rangeBytes))
	first, off := 0, int64(0) // the slice holding from, and its offset
	for from := int64(0); from < size; from += rangeBytes {
		to := min(from+rangeBytes, size)
		for first < n && off+int64(f.node.Sizes[first]) <= from {
			off += int64(f.node.Sizes[first])
			first++
		}
		end, endOff := first, off
		for end < n && endOff < to {
			endOff += int64(f.node.Sizes[end])
			end++
		}
		// Its cabinet ranges are fetched while it waits for a worker.
		rr.r.WillLoad(ctx, f.node.Content[first:end])
		select {
		case parts <- restorePart{f: f, first: first, end: end, offset: off, from: from, to: to}:
		case <-ctx.Done():
			return
		}
	}
}

// writeRange writes the range p.from-p.to of a large file (see rangeBytes).
func (rr *restoreRun) writeRange(ctx context.Context, p restorePart, buf, stage []byte) ([]byte, error) {
	fh, direct, err := openDirect(p.f.path)
	if err != nil {
		// Removed or replaced since feedLarge made it (as in writePart):
		// another process's doing, which costs this file only.
		return buf, skipError{err}
	}
	defer fh.Close()
	w := rangeWriter{fh: fh, direct: direct, stage: stage, pos: p.from}
	off, covered := p.offset, p.from
	for i := p.first; i < p.end; i++ {
		buf, err = rr.r.LoadBlob(ctx, p.f.node.Content[i], buf)
		if err != nil {
			return buf, fmt.Errorf("slice %d at offset %d: %w", i, off, err)
		}
		if len(buf) != int(p.f.node.Sizes[i]) {
			return buf, fmt.Errorf("%w: slice %d at offset %d is %d bytes, its tree says %d", repo.ErrDamaged, i, off, len(buf), p.f.node.Sizes[i])
		}
		lo, hi := max(covered-off, 0), min(p.to-off, int64(len(buf)))
		if lo < hi {
			if err := w.write(buf[lo:hi]); err != nil {
				return buf, err
			}
			covered = off + hi
			rr.bytesDone.Add(hi - lo)
		}
		off += int64(len(buf))
	}
	if covered != p.to {
		return buf, fmt.Errorf("%w: the slices of the tree end at offset %d, its size is %d", repo.ErrDamaged, covered, p.f.node.Size)
	}
	if err := w.finish(int64(p.f.node.Size)); err != nil {
		return buf, err
	}
	return buf, fh.Close()
}

// orderFiles puts the files of one part (the others are written as plan
// finds them) in the order their first slices lie in the cabinets, so the
// reads run through each cabinet from start to end and the kernel's
// read-ahead serves them. In size order they jumped from cabinet to
// cabinet: one small read, and one wait, per file.
func (rr *restoreRun) orderFiles() {
	type placed struct {
		f    *restoreFile
		pack blob.ID
		off  uint32
	}
	order := make([]placed, len(rr.files))
	for i, f := range rr.files {
		p := placed{f: f}
		if len(f.node.Content) > 0 {
			if loc, ok := rr.r.Index().Lookup(f.node.Content[0]); ok {
				p.pack, p.off = loc.Pack, loc.Offset
			}
		}
		order[i] = p
	}
	slices.SortStableFunc(order, func(a, b placed) int {
		if c := bytes.Compare(a.pack[:], b.pack[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.off, b.off)
	})
	for i := range order {
		rr.files[i] = order[i].f
	}
}

// skipError is a file that cannot be created; the restore goes on without it.
type skipError struct{ err error }

func (e skipError) Error() string { return e.err.Error() }

// createFile creates (or truncates) the file at f.path. Whatever else is
// in the file's place (a symlink, a FIFO, a file with other hard links)
// is replaced, never opened: opening would follow a symlink out of the
// target, block on a FIFO, or write into the other links.
// With sized, the file gets its final size at once, so parts can be
// written in any order and all-zero slices stay holes (sparse files);
// a file written whole by one worker gets it when it is written.
func (rr *restoreRun) createFile(f *restoreFile, sized bool) (*os.File, error) {
	if !f.fresh {
		if fi, err := lstat(f.path); err == nil && (!fi.Mode().IsRegular() || linkCount(fi) > 1) {
			if fi.IsDir() {
				return nil, skipError{errors.New("exists and is a folder")}
			}
			// A file with other hard links is replaced too: truncating it
			// would change the files it is linked to.
			if err := remove(f.path); err != nil {
				return nil, skipError{err}
			}
		}
	}
	flag := os.O_CREATE | os.O_WRONLY
	if !f.fresh {
		flag |= os.O_TRUNC // a fresh file is in a folder this restore made
	}
	fh, err := openFile(f.path, flag, 0o600)
	if !f.fresh && errors.Is(err, os.ErrPermission) {
		// A read-only file of the user's (one restored before, say): it
		// gets its mode back with its metadata, once written.
		if inPath(f.path, func(p string) error { return os.Chmod(p, 0o600) }) == nil {
			fh, err = openFile(f.path, flag, 0o600)
		}
	}
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrExist) || errors.Is(err, os.ErrInvalid) || errors.Is(err, syscall.ELOOP) {
			return nil, skipError{err}
		}
		return nil, err
	}
	if sized {
		if err := fh.Truncate(int64(f.node.Size)); err != nil {
			fh.Close()
			return nil, err
		}
	}
	return fh, nil
}

// writePart writes a whole file of a few slices, which createFiles has
// created.
func (rr *restoreRun) writePart(ctx context.Context, p restorePart, buf []byte) ([]byte, error) {
	if p.createErr != nil {
		return buf, p.createErr
	}
	fh, err := openFile(p.f.path, os.O_WRONLY, 0)
	if err != nil {
		// Removed or replaced since createFiles made it (a symlink is
		// refused): another process's doing, which costs this file only.
		return buf, skipError{err}
	}
	defer fh.Close()
	off := p.offset
	var written int64 // end of the last block written
	for i := p.first; i < p.end; i++ {
		buf, err = rr.r.LoadBlob(ctx, p.f.node.Content[i], buf)
		if err != nil {
			return buf, fmt.Errorf("slice %d at offset %d: %w", i, off, err)
		}
		end, err := writeNonZero(fh, buf, off)
		if err != nil {
			return buf, err
		}
		off += int64(len(buf))
		written = max(written, end)
		rr.bytesDone.Add(int64(len(buf)))
	}
	// The file ends where its last non-zero block did, so it may still
	// need its size; then its metadata goes through the open file, not
	// three path lookups.
	if written != int64(p.f.node.Size) {
		if err := fh.Truncate(int64(p.f.node.Size)); err != nil {
			return buf, err
		}
	}
	p.f.metaDone = rr.applyMetaOpen(fh, p.f.path, p.f.node)
	return buf, fh.Close()
}

// sparseBlock is the granularity at which runs of zeros inside a slice are
// left as holes: slices are up to megabytes long, so a slice holding a
// little data followed by zeros must not be written whole.
const sparseBlock = 4 << 10

// writeNonZero writes data at off, skipping aligned all-zero blocks (the
// file has its size, or gets it after, so they read back as zeros). It
// returns the end of the last block it wrote, 0 if none.
func writeNonZero(fh io.WriterAt, data []byte, off int64) (int64, error) {
	start := -1 // first byte of the pending non-zero run
	var end int64
	for i := 0; i < len(data); {
		// Blocks are aligned to the file offset so holes line up with the
		// file system's blocks.
		next := i + sparseBlock - int((off+int64(i))%sparseBlock)
		next = min(next, len(data))
		if chunker.IsZero(data[i:next]) {
			if start >= 0 {
				if _, err := fh.WriteAt(data[start:i], off+int64(start)); err != nil {
					return end, err
				}
				end = off + int64(i)
				start = -1
			}
		} else if start < 0 {
			start = i
		}
		i = next
	}
	if start >= 0 {
		if _, err := fh.WriteAt(data[start:], off+int64(start)); err != nil {
			return end, err
		}
		end = off + int64(len(data))
	}
	return end, nil
}

func (rr *restoreRun) finishFile(f *restoreFile) {
	if f.failed.Load() {
		return
	}
	if !f.metaDone {
		rr.applyMeta(f.path, f.node)
	}
	rr.filesDone.Add(1)
	atomic.AddInt64(&rr.stats.Files, 1)
	atomic.AddInt64(&rr.stats.Bytes, int64(f.node.Size))
}

func (rr *restoreRun) reportProgress(ctx context.Context) func() {
	if rr.o.Progress == nil {
		return func() {}
	}
	return every(ctx, rr.o.ProgressEvery, func() {
		rr.o.Progress(RestoreProgress{FilesTotal: rr.filesTotal.Load(), BytesTotal: rr.bytesTotal.Load(),
			FilesDone: rr.filesDone.Load(), BytesDone: rr.bytesDone.Load()})
	})
}

// verify re-reads every restored file and checks each slice's keyed hash
// against the session's slice IDs.
func (rr *restoreRun) verify(ctx context.Context) {
	key := rr.r.Key()
	var wg sync.WaitGroup
	ch := make(chan *restoreFile)
	for range rr.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for f := range ch {
				err := func() error {
					fh, err := openFile(f.path, os.O_RDONLY, 0)
					if err != nil {
						return err
					}
					defer fh.Close()
					for i, id := range f.node.Content {
						if cap(buf) < int(f.node.Sizes[i]) {
							buf = make([]byte, f.node.Sizes[i])
						}
						b := buf[:f.node.Sizes[i]]
						if _, err := io.ReadFull(fh, b); err != nil {
							return fmt.Errorf("slice %d: %w", i, err)
						}
						if key.ID(b) != id {
							return fmt.Errorf("slice %d differs from the repository", i)
						}
					}
					if n, _ := fh.Read(make([]byte, 1)); n != 0 {
						return errors.New("file is longer than in the session")
					}
					return nil
				}()
				if err != nil {
					atomic.AddInt64(&rr.stats.VerifyFailed, 1)
					rr.warn(f.path, fmt.Errorf("verify: %w", err))
				} else {
					atomic.AddInt64(&rr.stats.Verified, 1)
				}
			}
		}()
	}
	for _, f := range slices.Concat(rr.files, rr.largeFiles) {
		if ctx.Err() != nil {
			break
		}
		if f.failed.Load() {
			continue // already reported
		}
		ch <- f
	}
	close(ch)
	wg.Wait()
}
