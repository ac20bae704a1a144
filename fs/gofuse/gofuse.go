//go:build linux || darwin

package gofuse

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"weak"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cabinetbackup/cabinet/fs"
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// Timeouts (MOUNT.md §1): session content never changes; the levels above
// it change when sessions are added.
const (
	StableTimeout   = time.Hour
	VolatileTimeout = time.Second
)

// Options tune a mount.
type Options struct {
	// VolumeName is shown by Finder (macOS); default "Cabinet".
	VolumeName string
	// FsName is the source shown by mount(8) and df; default "cabinet".
	FsName string
	// Debug logs every FUSE request.
	Debug bool
	// Logf reports panics; default log.Printf.
	Logf func(format string, args ...any)
}

// Server is a mounted file system.
type Server struct {
	srv        *fuse.Server
	mountpoint string
	detached   atomic.Bool
}

// Mount mounts f at mountpoint and returns once the kernel serves it.
func Mount(f *fs.FS, mountpoint string, o Options) (*Server, error) {
	if o.VolumeName == "" {
		o.VolumeName = "Cabinet"
	}
	if o.FsName == "" {
		o.FsName = "cabinet"
	}
	if o.Logf == nil {
		o.Logf = log.Printf
	}
	stable := StableTimeout
	mo := fuse.MountOptions{
		FsName:                   o.FsName,
		Name:                     "cabinet",
		MaxWrite:                 1 << 20,
		ExplicitDataCacheControl: true,
		// Paths through latest follow it on every walk: without caching
		// each stat below latest costs a READLINK. Safe because a symlink's
		// inode number changes with its target (fs: latest hashes the
		// session it points to) and everything else is immutable.
		EnableSymlinkCaching: true,
		DisableXAttrs:        true,
		Options:              append([]string{"ro"}, platformOptions(o)...),
		Debug:                o.Debug,
		DirectMount:          os.Geteuid() == 0,
		PanicHandler: func(v any) fuse.Status {
			o.Logf("mount: internal error (answered EIO): %v\n%s", v, debug.Stack())
			return fuse.EIO
		},
	}
	a := &adapter{f: f, logf: o.Logf}
	root := &node{leaf: leaf{n: f.Root()}, a: a}
	opts := &gofs.Options{
		MountOptions:    mo,
		EntryTimeout:    &stable,
		AttrTimeout:     &stable,
		NegativeTimeout: &stable,
		RootStableAttr:  &gofs.StableAttr{Ino: f.Root().Attr().Ino},
		// Attributes are the backed-up ones: a mode of 000 stays 000 and
		// root-owned files stay root's (no UID/GID defaults either).
		NullPermissions: true,
	}
	srv, err := fuse.NewServer(listingRequests(gofs.NewNodeFS(root, opts), a), mountpoint, &opts.MountOptions)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	return &Server{srv: srv, mountpoint: mountpoint}, nil
}

// Unmount unmounts. A busy mount (EBUSY: a shell inside it, an open file)
// is detached lazily (see Detached): it disappears from the name space
// now, and the programs still using it are served until they leave it.
func (s *Server) Unmount() error {
	err := s.srv.Unmount()
	if err == nil {
		return nil
	}
	if lerr := lazyUnmount(s.mountpoint); lerr != nil {
		return fmt.Errorf("unmount %s: %s; lazy unmount: %w", s.mountpoint, strings.Join(strings.Fields(err.Error()), " "), lerr)
	}
	s.detached.Store(true)
	return nil
}

// Detached reports whether Unmount found the mount busy and detached it:
// Wait then returns only once the last program using it has left it (or
// the process ends, which gives them errors).
func (s *Server) Detached() bool { return s.detached.Load() }

// Wait blocks until the file system is unmounted (by Unmount, fusermount -u
// or umount) and no program uses it any more.
func (s *Server) Wait() { s.srv.Wait() }

// adapter is what all nodes of one mount share.
type adapter struct {
	f        *fs.FS
	logf     func(format string, args ...any)
	listings listingPolicy
	// listingsCached is set once the kernel lists folders without
	// OPENDIR (opendirless) and so caches every listing.
	listingsCached atomic.Bool
	// leanHeld are folders whose lean listings the kernel may hold in its
	// cache (listingsCached), to be dropped from it when a stat walk
	// shows up (dropLeanListings).
	leanMu   sync.Mutex
	leanHeld []weak.Pointer[node]
}

// maxLeanHeld bounds leanHeld: past it the listings are dropped in the
// background, so a names-only walk over millions of folders holds no more.
const maxLeanHeld = 1 << 16

// holdLean notes that the kernel may keep n's lean listing in its cache.
//
// It is dropped from there only when a stat walk needs the attributes
// (dropLeanListings), not when the listing ends: one invalidation per
// folder, each from a goroutine of its own, cost the mount a third of its
// CPU on a cold find over the corpus, in the invalidations and in the Go
// scheduler's waking of threads for them. A lean listing left in the
// cache lists the same names; only a stat walk over it would pay one
// LOOKUP per file.
func (a *adapter) holdLean(n *node) {
	a.leanMu.Lock()
	a.leanHeld = append(a.leanHeld, weak.Make(n))
	var full []weak.Pointer[node]
	if len(a.leanHeld) >= maxLeanHeld {
		full, a.leanHeld = a.leanHeld, nil
	}
	a.leanMu.Unlock()
	if full != nil {
		go dropListings(full)
	}
}

// dropLeanListings drops every held lean listing from the kernel's cache
// before it returns, so a stat walk that has met one (a LOOKUP of a file
// it left out) lists the next folders afresh, with their attributes.
// Safe inside a request: dropping a listing takes no lock that the kernel
// holds across a request.
func (a *adapter) dropLeanListings() {
	a.leanMu.Lock()
	held := a.leanHeld
	a.leanHeld = nil
	a.leanMu.Unlock()
	dropListings(held)
}

func dropListings(held []weak.Pointer[node]) {
	for _, w := range held {
		// A forgotten folder's listing went with its inode.
		if n := w.Value(); n != nil && !n.Forgotten() {
			n.NotifyContent(0, 0)
		}
	}
}

// errno maps fs errors to errno values: the one translation point.
func errno(err error) syscall.Errno {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, fs.ErrNotDir):
		return syscall.ENOTDIR
	case errors.Is(err, fs.ErrReadOnly):
		return syscall.EROFS
	case errors.Is(err, fs.ErrNotSupported):
		return syscall.ENOTSUP
	case errors.Is(err, fs.ErrNoData):
		return syscall.ENXIO
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	case errors.Is(err, repo.ErrDamaged), errors.Is(err, repo.ErrBlobNotFound):
		return syscall.EIO
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	return syscall.EIO
}

func fillAttr(a fs.Attr, out *fuse.Attr) {
	out.Ino = a.Ino
	out.Mode = a.Type.UnixMode() | a.Perm
	out.Size = a.Size
	out.Blocks = a.Blocks()
	out.Blksize = 4096
	out.Nlink = a.Links
	out.Uid = a.UID
	out.Gid = a.GID
	out.Rdev = uint32(a.Rdev)
	// The kernel reads the seconds as signed: times before 1970 pass as
	// their two's complement.
	s, nsec := a.MtimeSpec()
	sec := uint64(s)
	out.Mtime, out.Mtimensec = sec, nsec
	out.Ctime, out.Ctimensec = sec, nsec
	out.Atime, out.Atimensec = sec, nsec
}

// leaf is the go-fuse inode of a file, symlink or special node: the most
// numerous kind (a walked folder may hold a million), so it carries only
// its fs node (144 bytes, where a node is 160).
type leaf struct {
	gofs.Inode
	n fs.Node
}

// node is the go-fuse inode of a folder.
type node struct {
	leaf
	a *adapter
	// leanListed is set while the last listing of this folder left its
	// files out (listingPolicy).
	leanListed atomic.Bool
}

var (
	_ gofs.NodeGetattrer   = (*leaf)(nil)
	_ gofs.NodeOpener      = (*leaf)(nil)
	_ gofs.NodeReadlinker  = (*leaf)(nil)
	_ gofs.NodeStatfser    = (*leaf)(nil)
	_ gofs.NodeSetattrer   = (*leaf)(nil)
	_ gofs.NodeAccesser    = (*leaf)(nil)
	_ gofs.NodeGetxattrer  = (*leaf)(nil)
	_ gofs.NodeListxattrer = (*leaf)(nil)

	_ gofs.NodeLookuper       = (*node)(nil)
	_ gofs.NodeOpendirHandler = (*node)(nil)
	_ gofs.NodeCreater        = (*node)(nil)
	_ gofs.NodeMkdirer        = (*node)(nil)
	_ gofs.NodeMknoder        = (*node)(nil)
	_ gofs.NodeLinker         = (*node)(nil)
	_ gofs.NodeSymlinker      = (*node)(nil)
	_ gofs.NodeUnlinker       = (*node)(nil)
	_ gofs.NodeRmdirer        = (*node)(nil)
	_ gofs.NodeRenamer        = (*node)(nil)
)

func setEntryTimeouts(a fs.Attr, out *fuse.EntryOut) {
	if a.Volatile {
		out.SetEntryTimeout(VolatileTimeout)
		out.SetAttrTimeout(VolatileTimeout)
	}
}

// child returns the inode of fs node c under n, filling out.
func (n *node) child(ctx context.Context, c fs.Node, out *fuse.EntryOut) *gofs.Inode {
	a := c.Attr()
	fillAttr(a, &out.Attr)
	setEntryTimeouts(a, out)
	var op gofs.InodeEmbedder = &leaf{n: c}
	if a.Type == snapshot.TypeDir {
		op = &node{leaf: leaf{n: c}, a: n.a}
	}
	return n.NewInode(ctx, op, gofs.StableAttr{Mode: a.Type.UnixMode(), Ino: a.Ino})
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	d, ok := n.n.(fs.Dir)
	if !ok {
		return nil, syscall.ENOTDIR
	}
	c, err := d.Lookup(ctx, name)
	if err != nil {
		if n.n.Attr().Volatile {
			// A session looked up before it existed must resolve once it
			// does: no long negative caching at the changing levels.
			out.SetEntryTimeout(VolatileTimeout)
		}
		return nil, errno(err)
	}
	if n.leanListed.Load() && c.Attr().Type != snapshot.TypeDir {
		n.a.listings.miss()
		n.a.dropLeanListings()
	}
	return n.child(ctx, c, out), 0
}

func (n *leaf) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	a := n.n.Attr()
	fillAttr(a, &out.Attr)
	if a.Volatile {
		out.SetTimeout(VolatileTimeout)
	}
	return 0
}

func (n *leaf) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	st := n.Root().Operations().(*node).a.f.Statfs(ctx)
	out.Bsize = st.BlockSize
	out.Frsize = st.BlockSize
	out.Blocks = st.Blocks
	out.Files = st.Files
	out.NameLen = st.NameLen
	return 0
}

func (n *leaf) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	l, ok := n.n.(fs.Symlink)
	if !ok {
		return nil, syscall.EINVAL
	}
	target, err := l.Readlink(ctx)
	if err != nil {
		return nil, errno(err)
	}
	return []byte(target), 0
}

func (n *leaf) Access(ctx context.Context, mask uint32) syscall.Errno {
	if mask&2 != 0 { // W_OK
		return syscall.EROFS
	}
	return 0
}

func (n *leaf) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENODATA
}

func (n *leaf) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) { return 0, 0 }

// Open opens a file for reading; any write access is EROFS.
func (n *leaf) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND|syscall.O_CREAT) != 0 {
		return nil, 0, syscall.EROFS
	}
	f, ok := n.n.(fs.File)
	if !ok {
		return nil, 0, syscall.EISDIR
	}
	h, err := f.Open(ctx)
	if err != nil {
		return nil, 0, errno(err)
	}
	return &fileHandle{h: h}, fuse.FOPEN_KEEP_CACHE, 0
}

// fileHandle reads an opened file. go-fuse calls Read concurrently.
type fileHandle struct{ h fs.Handle }

var (
	_ gofs.FileReader   = (*fileHandle)(nil)
	_ gofs.FileReleaser = (*fileHandle)(nil)
	_ gofs.FileLseeker  = (*fileHandle)(nil)
)

// Lseek answers SEEK_DATA and SEEK_HOLE (the kernel handles the others):
// cp --sparse=auto finds a sparse file's holes with them.
func (f *fileHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	s, ok := f.h.(fs.Seeker)
	if !ok || (whence != fs.SeekData && whence != fs.SeekHole) {
		return 0, syscall.EINVAL
	}
	pos, err := s.Seek(int64(off), int(whence))
	if err != nil {
		return 0, errno(err)
	}
	return uint64(pos), 0
}

func (f *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	d, err := f.h.ReadAt(ctx, off, len(dest))
	if err != nil {
		return nil, errno(err)
	}
	return readResult{d}, 0
}

// readResult hands the slice cache's bytes to go-fuse without a copy
// (writev of the parts) and releases them once they are sent (Done).
type readResult struct{ d fs.Data }

func (r readResult) Size() int { return r.d.Len() }

func (r readResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	if parts := r.d.Parts(); len(parts) == 1 {
		return parts[0], fuse.OK
	}
	if len(buf) < r.d.Len() {
		buf = make([]byte, r.d.Len())
	}
	return buf[:r.d.CopyTo(buf)], fuse.OK
}

// Slices lets go-fuse write the parts with writev (its withSlice interface).
func (r readResult) Slices() ([][]byte, fuse.Status) { return r.d.Parts(), fuse.OK }

func (r readResult) Done() { r.d.Release() }

func (f *fileHandle) Release(ctx context.Context) syscall.Errno { return errno(f.h.Close()) }

// OpendirHandle returns a handle that reads the listing at its first
// READDIR (a part at a time inside sessions) and serves READDIRPLUS
// lookups from it. Folders
// inside sessions are immutable, so the kernel caches their listings
// (FOPEN_CACHE_DIR), unless the listing leaves files out (listingPolicy).
// Where the kernel sends no OPENDIR (opendirless) it caches every listing
// and ignores these flags; the handle's uncache then does their part.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	d, ok := n.n.(fs.Dir)
	if !ok {
		return nil, 0, syscall.ENOTDIR
	}
	h := &dirHandle{n: n, d: d}
	if n.n.Attr().Volatile {
		h.uncache = true
		return h, 0, 0
	}
	if !leanListings {
		return h, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
	}
	lean := n.a.listings.lean(func(limit int) int { return h.unknownFiles(ctx, limit) })
	n.leanListed.Store(lean)
	if lean {
		// Not FOPEN_KEEP_CACHE either: go-fuse adds FOPEN_CACHE_DIR to it.
		h.leanLeft = maxLeanEntries
		h.uncache = true
		return h, 0, 0
	}
	return h, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// dirHandle streams a listing, read at the first READDIR: with
// FOPEN_CACHE_DIR the kernel often serves a listing from its cache and
// sends none. A folder inside a session (fs.PartDir) is read listPart
// entries at a time. go-fuse serializes calls on one handle.
type dirHandle struct {
	n     *node
	d     fs.Dir
	ents  []fs.Entry // the part read last, nil until read
	first int        // index of ents[0] in the listing
	total int        // entries in the listing
	pos   int        // next entry to return; "." and ".." are 0 and 1
	// leanLeft is how many more files this listing leaves out of
	// READDIRPLUS (listingPolicy); set when the folder is opened.
	leanLeft int
	// uncache is set for listings the kernel must not keep: a volatile
	// folder's, a lean one.
	uncache bool
}

// listPart is how many entries of a large folder a handle holds at once.
const listPart = 4096

// entry returns entry i of the listing (ok false past its end), reading
// the part that holds it if needed.
func (d *dirHandle) entry(ctx context.Context, i int) (e fs.Entry, ok bool, errno syscall.Errno) {
	if d.ents == nil || i < d.first || i >= d.first+len(d.ents) && d.first+len(d.ents) < d.total {
		if errno = d.read(ctx, i); errno != 0 {
			return e, false, errno
		}
	}
	if i < d.first || i >= d.first+len(d.ents) {
		return e, false, 0
	}
	return d.ents[i-d.first], true, 0
}

// read reads the part of the listing that starts at entry i (all of it
// for folders that are not PartDirs).
func (d *dirHandle) read(ctx context.Context, i int) syscall.Errno {
	if pd, ok := d.d.(fs.PartDir); ok {
		ents, total, err := pd.ReaddirPart(ctx, i, listPart)
		if err != nil {
			return errno(err)
		}
		if ents == nil {
			ents = []fs.Entry{}
		}
		d.ents, d.first, d.total = ents, min(i, total), total
		return 0
	}
	if d.ents != nil {
		return 0
	}
	ents, err := d.d.Readdir(ctx)
	if err != nil {
		return errno(err)
	}
	if ents == nil {
		ents = []fs.Entry{}
	}
	d.ents, d.first, d.total = ents, 0, len(ents)
	return 0
}

var (
	_ gofs.FileReaddirenter = (*dirHandle)(nil)
	_ gofs.FileLookuper     = (*dirHandle)(nil)
	_ gofs.FileSeekdirer    = (*dirHandle)(nil)
	_ gofs.FileReleasedirer = (*dirHandle)(nil)
)

// Releasedir drops a volatile folder's listing from the kernel's cache,
// where it caches every listing (opendirless), and holds a lean one for
// dropLeanListings. Not inline: the kernel may still be adding the
// listing's last part to its cache.
func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	switch {
	case !d.uncache || !d.n.a.listingsCached.Load():
	case d.n.n.Attr().Volatile:
		go d.n.NotifyContent(0, 0)
	default:
		d.n.a.holdLean(d.n)
	}
}

// Readdirent returns ".", "..", then the entries; pos counts all three kinds.
func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	switch {
	case d.pos == 0:
		d.pos++
		return &fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: d.n.n.Attr().Ino, Off: 1}, 0
	case d.pos == 1:
		d.pos++
		ino := uint64(1)
		if _, p := d.n.Parent(); p != nil {
			ino = p.StableAttr().Ino
		}
		return &fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Ino: ino, Off: 2}, 0
	}
	e, ok, errno := d.entry(ctx, d.pos-2)
	if errno != 0 || !ok {
		return nil, errno
	}
	d.pos++
	a := e.Node.Attr()
	return &fuse.DirEntry{Name: e.Name, Mode: a.Type.UnixMode(), Ino: a.Ino, Off: uint64(d.pos)}, 0
}

// unknownFiles counts the entries of the listing that are not folders and
// that the kernel holds no entry for, up to limit.
func (d *dirHandle) unknownFiles(ctx context.Context, limit int) int {
	c := 0
	for i := 0; ; i++ {
		e, ok, errno := d.entry(ctx, i)
		if errno != 0 || !ok {
			return c
		}
		if e.Node.Attr().Type != snapshot.TypeDir && d.n.GetChild(e.Name) == nil {
			if c++; c == limit {
				return c
			}
		}
	}
}

// Lookup serves READDIRPLUS: name is the entry Readdirent returned last.
// A file a lean listing leaves out gets an error: go-fuse then sends the
// entry with node ID 0, which the kernel lists without making an inode.
func (d *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if i := d.pos - 3 - d.first; i >= 0 && i < len(d.ents) && d.ents[i].Name == name {
		c := d.ents[i].Node
		if d.leanLeft > 0 && c.Attr().Type != snapshot.TypeDir {
			d.leanLeft--
			return nil, syscall.EAGAIN
		}
		return d.n.child(ctx, c, out), 0
	}
	return d.n.Lookup(ctx, name, out)
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if d.ents == nil {
		if e := d.read(ctx, 0); e != 0 {
			return e
		}
	}
	if off > uint64(d.total+2) {
		return syscall.EINVAL
	}
	d.pos = int(off)
	return 0
}

// Everything that would change the tree is refused.

func (n *leaf) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *node) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}
