//go:build windows || (linux && cgo && cgofuse)

package cgofuse

import (
	"context"
	"errors"
	"fmt"
	"log"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/winfsp/cgofuse/fuse"

	"github.com/cabinetbackup/cabinet/fs"
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// Options tune a mount.
type Options struct {
	// VolumeName is shown by Explorer (default "Cabinet").
	VolumeName string
	// Debug logs every FUSE request.
	Debug bool
	// Logf reports panics (default log.Printf).
	Logf func(format string, args ...any)
}

// pathCacheSize bounds the path→node cache; it is emptied when full.
const pathCacheSize = 200_000

// Server is a mounted file system.
type Server struct {
	host       *fuse.FileSystemHost
	mountpoint string
	done       chan struct{}
	err        error
}

// Mount mounts f at mountpoint (on Windows a drive letter such as "X:",
// "*" for a free one, or a folder that does not exist yet) and returns once
// the file system is initialized.
func Mount(f *fs.FS, mountpoint string, o Options) (s *Server, err error) {
	if o.VolumeName == "" {
		o.VolumeName = "Cabinet"
	}
	if o.Logf == nil {
		o.Logf = log.Printf
	}
	a := &adapter{f: f, logf: o.Logf, ready: make(chan struct{}), paths: map[string]fs.Node{},
		handles: map[uint64]fs.Handle{}}
	host := fuse.NewFileSystemHost(a)
	host.SetCapReaddirPlus(true)
	host.SetCapCaseInsensitive(caseInsensitive)
	s = &Server{host: host, mountpoint: mountpoint, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer func() {
			if v := recover(); v != nil {
				// cgofuse panics when it cannot load WinFsp or libfuse.
				s.err = fmt.Errorf("%v: %s", v, installHint)
			}
		}()
		if !host.Mount(mountpoint, mountOptions(o)) {
			s.err = fmt.Errorf("mount %s failed (see the messages above)", mountpoint)
		}
	}()
	select {
	case <-a.ready:
		go notifyChanges(host, f, s.done)
		s.takeSignals()
		return s, nil
	case <-s.done:
		if s.err == nil {
			s.err = fmt.Errorf("mount %s ended at once", mountpoint)
		}
		return nil, s.err
	}
}

// Unmount unmounts and waits until the host has stopped.
func (s *Server) Unmount() error {
	select {
	case <-s.done:
		return nil // unmounted already (from outside, or by a signal: see takeSignals)
	default:
	}
	if !s.unmountHost() {
		select {
		case <-s.done:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("unmount failed: the mount point may be busy")
		}
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("unmount did not finish within 30s")
	}
}

// Wait blocks until the file system is unmounted.
func (s *Server) Wait() { <-s.done }

// adapter implements cgofuse's path-based interface over fs.
type adapter struct {
	fuse.FileSystemBase
	f     *fs.FS
	logf  func(format string, args ...any)
	ready chan struct{}
	once  sync.Once

	mu    sync.Mutex
	paths map[string]fs.Node // stable nodes (inside sessions) by path

	hmu     sync.Mutex
	handles map[uint64]fs.Handle
	nextFh  atomic.Uint64
}

var (
	_ fuse.FileSystemInterface = (*adapter)(nil)
	_ fuse.FileSystemOpenEx    = (*adapter)(nil)
	_ fuse.FileSystemGetpath   = (*adapter)(nil)
)

// errno maps fs errors to negative errno values: the one translation point.
func errno(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, fs.ErrNotExist):
		return -fuse.ENOENT
	case errors.Is(err, fs.ErrNotDir):
		return -fuse.ENOTDIR
	case errors.Is(err, fs.ErrReadOnly):
		return -fuse.EROFS
	case errors.Is(err, fs.ErrNotSupported):
		return -fuse.ENOTSUP
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return -fuse.EINTR
	case errors.Is(err, repo.ErrDamaged), errors.Is(err, repo.ErrBlobNotFound):
		return -fuse.EIO
	}
	return -fuse.EIO
}

// guard turns a panic into EIO and logs it.
func (a *adapter) guard(rc *int) {
	if v := recover(); v != nil {
		a.logf("mount: internal error (answered EIO): %v\n%s", v, debug.Stack())
		*rc = -fuse.EIO
	}
}

func (a *adapter) Init() { a.once.Do(func() { close(a.ready) }) }

// resolve finds the node at a slash-separated path ("/" is the root).
func (a *adapter) resolve(path string) (fs.Node, error) {
	path = strings.TrimRight(path, "/")
	if path == "" {
		return a.f.Root(), nil
	}
	a.mu.Lock()
	n, ok := a.paths[path]
	a.mu.Unlock()
	if ok {
		return n, nil
	}
	i := strings.LastIndexByte(path, '/')
	parent, err := a.resolve(path[:i])
	if err != nil {
		return nil, err
	}
	d, ok := parent.(fs.Dir)
	if !ok {
		return nil, fmt.Errorf("%s: %w", path[:i], fs.ErrNotDir)
	}
	name := decodeName(path[i+1:])
	if n, _, err = a.lookup(d, name); err != nil {
		return nil, err
	}
	if cacheable(path, n) {
		a.mu.Lock()
		if len(a.paths) >= pathCacheSize {
			a.paths = map[string]fs.Node{}
		}
		a.paths[path] = n
		a.mu.Unlock()
	}
	return n, nil
}

// lookup finds name in d and returns the node and its real name: on a
// case-insensitive host (Windows) a miss is retried ignoring case.
func (a *adapter) lookup(d fs.Dir, name string) (fs.Node, string, error) {
	n, err := d.Lookup(context.Background(), name)
	if err == nil || !caseInsensitive || !errors.Is(err, fs.ErrNotExist) || fs.IsProbe(name) {
		return n, name, err
	}
	ents, rerr := d.Readdir(context.Background())
	if rerr != nil {
		return nil, "", err
	}
	for _, e := range ents {
		if strings.EqualFold(e.Name, name) {
			return e.Node, e.Name, nil
		}
	}
	return nil, "", err
}

// Getpath reports the real case of path (case-insensitive hosts).
func (a *adapter) Getpath(path string, fh uint64) (rc int, real string) {
	defer a.guard(&rc)
	var n fs.Node = a.f.Root()
	var b strings.Builder
	for _, c := range strings.Split(strings.Trim(path, "/"), "/") {
		if c == "" {
			continue
		}
		d, ok := n.(fs.Dir)
		if !ok {
			return -fuse.ENOTDIR, ""
		}
		child, name, err := a.lookup(d, decodeName(c))
		if err != nil {
			return errno(err), ""
		}
		b.WriteString("/" + encodeName(name))
		n = child
	}
	if b.Len() == 0 {
		return 0, "/"
	}
	return 0, b.String()
}

// cacheable: nodes inside sessions never change, unless they are reached
// through latest (a directory on Windows), which moves to newer sessions.
func cacheable(path string, n fs.Node) bool {
	if n.Attr().Volatile {
		return false
	}
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	return len(parts) >= 3 && !strings.EqualFold(parts[2], fs.LatestName)
}

func fillStat(a fs.Attr, st *fuse.Stat_t) {
	st.Ino = a.Ino
	st.Mode = a.Type.UnixMode() | a.Perm
	st.Nlink = a.Links
	st.Uid = a.UID
	st.Gid = a.GID
	st.Rdev = a.Rdev
	st.Size = int64(a.Size)
	st.Blksize = 4096
	st.Blocks = int64(a.Blocks())
	sec, nsec := a.MtimeSpec()
	ts := fuse.Timespec{Sec: sec, Nsec: int64(nsec)}
	st.Mtim, st.Ctim, st.Atim, st.Birthtim = ts, ts, ts, ts
}

func (a *adapter) Statfs(path string, st *fuse.Statfs_t) (rc int) {
	defer a.guard(&rc)
	s := a.f.Statfs(context.Background())
	st.Bsize = uint64(s.BlockSize)
	st.Frsize = uint64(s.BlockSize)
	st.Blocks = s.Blocks
	st.Files = s.Files
	st.Namemax = uint64(s.NameLen)
	return 0
}

func (a *adapter) Getattr(path string, st *fuse.Stat_t, fh uint64) (rc int) {
	defer a.guard(&rc)
	n, err := a.resolve(path)
	if err != nil {
		return errno(err)
	}
	fillStat(n.Attr(), st)
	return 0
}

func (a *adapter) Readlink(path string) (rc int, target string) {
	defer a.guard(&rc)
	n, err := a.resolve(path)
	if err != nil {
		return errno(err), ""
	}
	l, ok := n.(fs.Symlink)
	if !ok {
		return -fuse.EINVAL, ""
	}
	target, err = l.Readlink(context.Background())
	return errno(err), target
}

func (a *adapter) Access(path string, mask uint32) (rc int) {
	defer a.guard(&rc)
	if _, err := a.resolve(path); err != nil {
		return errno(err)
	}
	if mask&2 != 0 { // W_OK
		return -fuse.EROFS
	}
	return 0
}

func (a *adapter) Opendir(path string) (rc int, fh uint64) {
	defer a.guard(&rc)
	n, err := a.resolve(path)
	if err != nil {
		return errno(err), ^uint64(0)
	}
	if _, ok := n.(fs.Dir); !ok {
		return -fuse.ENOTDIR, ^uint64(0)
	}
	return 0, 0
}

// Readdir fills the whole listing at offset 0, with attributes
// (readdir-plus on Windows), so no Getattr per entry is needed.
func (a *adapter) Readdir(path string, fill func(name string, stat *fuse.Stat_t, ofst int64) bool, ofst int64, fh uint64) (rc int) {
	defer a.guard(&rc)
	n, err := a.resolve(path)
	if err != nil {
		return errno(err)
	}
	d, ok := n.(fs.Dir)
	if !ok {
		return -fuse.ENOTDIR
	}
	ents, err := d.Readdir(context.Background())
	if err != nil {
		return errno(err)
	}
	fill(".", nil, 0)
	fill("..", nil, 0)
	var st fuse.Stat_t
	for _, e := range ents {
		st = fuse.Stat_t{}
		fillStat(e.Node.Attr(), &st)
		if !fill(encodeName(e.Name), &st, 0) {
			break
		}
	}
	return 0
}

func (a *adapter) Releasedir(path string, fh uint64) int { return 0 }

func (a *adapter) Open(path string, flags int) (int, uint64) {
	fi := fuse.FileInfo_t{Flags: flags}
	rc := a.OpenEx(path, &fi)
	return rc, fi.Fh
}

// OpenEx opens a file for reading, with the kernel's page cache kept
// (content never changes); any write access is EROFS.
func (a *adapter) OpenEx(path string, fi *fuse.FileInfo_t) (rc int) {
	defer a.guard(&rc)
	fi.Fh = ^uint64(0)
	if fi.Flags&fuse.O_ACCMODE != fuse.O_RDONLY || fi.Flags&(fuse.O_TRUNC|fuse.O_APPEND|fuse.O_CREAT) != 0 {
		return -fuse.EROFS
	}
	n, err := a.resolve(path)
	if err != nil {
		return errno(err)
	}
	f, ok := n.(fs.File)
	if !ok {
		if n.Attr().Type == snapshot.TypeDir {
			return -fuse.EISDIR
		}
		return -fuse.EACCES
	}
	h, err := f.Open(context.Background())
	if err != nil {
		return errno(err)
	}
	id := a.nextFh.Add(1)
	a.hmu.Lock()
	a.handles[id] = h
	a.hmu.Unlock()
	fi.Fh = id
	fi.KeepCache = true
	return 0
}

func (a *adapter) handle(fh uint64) fs.Handle {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	return a.handles[fh]
}

func (a *adapter) Read(path string, buff []byte, ofst int64, fh uint64) (rc int) {
	defer a.guard(&rc)
	h := a.handle(fh)
	if h == nil {
		return -fuse.EBADF
	}
	d, err := h.ReadAt(context.Background(), ofst, len(buff))
	if err != nil {
		return errno(err)
	}
	defer d.Release()
	return d.CopyTo(buff)
}

func (a *adapter) Release(path string, fh uint64) (rc int) {
	defer a.guard(&rc)
	a.hmu.Lock()
	h := a.handles[fh]
	delete(a.handles, fh)
	a.hmu.Unlock()
	if h != nil {
		return errno(h.Close())
	}
	return 0
}

func (a *adapter) Getxattr(path string, name string) (int, []byte) { return -fuse.ENOATTR, nil }

func (a *adapter) Listxattr(path string, fill func(name string) bool) int { return 0 }

// Everything that would change the tree is refused.

func (a *adapter) Mknod(string, uint32, uint64) int              { return -fuse.EROFS }
func (a *adapter) Mkdir(string, uint32) int                      { return -fuse.EROFS }
func (a *adapter) Unlink(string) int                             { return -fuse.EROFS }
func (a *adapter) Rmdir(string) int                              { return -fuse.EROFS }
func (a *adapter) Link(string, string) int                       { return -fuse.EROFS }
func (a *adapter) Symlink(string, string) int                    { return -fuse.EROFS }
func (a *adapter) Rename(string, string) int                     { return -fuse.EROFS }
func (a *adapter) Chmod(string, uint32) int                      { return -fuse.EROFS }
func (a *adapter) Chown(string, uint32, uint32) int              { return -fuse.EROFS }
func (a *adapter) Utimens(string, []fuse.Timespec) int           { return -fuse.EROFS }
func (a *adapter) Truncate(string, int64, uint64) int            { return -fuse.EROFS }
func (a *adapter) Write(string, []byte, int64, uint64) int       { return -fuse.EROFS }
func (a *adapter) Setxattr(string, string, []byte, int) int      { return -fuse.EROFS }
func (a *adapter) Removexattr(string, string) int                { return -fuse.EROFS }
func (a *adapter) Create(string, int, uint32) (int, uint64)      { return -fuse.EROFS, ^uint64(0) }
func (a *adapter) CreateEx(string, uint32, *fuse.FileInfo_t) int { return -fuse.EROFS }
