package fs

import (
	"context"
	"errors"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// Sentinel errors. Adapters map them to errno values with errors.Is.
var (
	// ErrNotExist: no entry of that name (ENOENT).
	ErrNotExist = errors.New("no such file or directory")
	// ErrNotDir: a path component is not a directory (ENOTDIR).
	ErrNotDir = errors.New("not a directory")
	// ErrReadOnly: the file system is read-only (EROFS).
	ErrReadOnly = errors.New("read-only file system")
	// ErrNotSupported: the node does not support the operation (ENOTSUP).
	ErrNotSupported = errors.New("operation not supported")
	// ErrNoData: no data or hole at or after an offset, past the end of a
	// file (ENXIO).
	ErrNoData = errors.New("no such device or address")
)

// Attr are a node's attributes.
type Attr struct {
	Ino   uint64            // deterministic per (device, session, path); equal for hard links
	Type  snapshot.NodeType // snapshot.TypeFile, TypeDir, TypeSymlink, ...
	Perm  uint32            // permission bits plus setuid, setgid, sticky (07777)
	Size  uint64
	Links uint32 // 1, or the hard-link count of a file
	UID   uint32
	GID   uint32
	Mtime int64 // Unix nanoseconds
	Rdev  uint64
	// Holes are the bytes of a file's slices of zeros (holes.go), which
	// its block count leaves out.
	Holes uint64

	// Volatile is set on nodes that change while mounted (root, device,
	// files, persona, latest, session folders): adapters cache them for about a second
	// only. Everything inside a session is immutable.
	Volatile bool
}

// MtimeSpec returns Mtime as seconds and nanoseconds since 1970, the
// nanoseconds always 0 to 999,999,999: half a second before 1970 is -1 s
// and 500,000,000 ns, as stat(2) reports it.
func (a Attr) MtimeSpec() (sec int64, nsec uint32) {
	sec, ns := a.Mtime/1e9, a.Mtime%1e9
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	return sec, uint32(ns)
}

// Blocks returns the number of 512-byte blocks the node occupies, for du.
func (a Attr) Blocks() uint64 { return (a.Size - min(a.Holes, a.Size) + 511) / 512 }

// Node is one entry of the tree. Nodes are immutable values, safe for
// concurrent use; a node implements Dir, File or Symlink according to its
// Type (device nodes, FIFOs and sockets implement only Node).
type Node interface {
	Attr() Attr
}

// Entry is one directory entry.
type Entry struct {
	Name string
	Node Node
}

// Dir is a directory node.
type Dir interface {
	Node
	// Lookup returns the child called name, or an error wrapping
	// ErrNotExist.
	Lookup(ctx context.Context, name string) (Node, error)
	// Readdir returns all entries, sorted by name (without "." and "..").
	// The caller must not modify the returned slice.
	Readdir(ctx context.Context) ([]Entry, error)
}

// PartDir is a Dir that can list its entries a part at a time, for
// folders too large to hold as Entries at once (a million files are
// 32 MB of Entries before their nodes). Folders inside sessions are
// PartDirs.
type PartDir interface {
	Dir
	// ReaddirPart returns up to n entries from the start-th on, in
	// Readdir's order, and how many entries the folder has.
	ReaddirPart(ctx context.Context, start, n int) ([]Entry, int, error)
}

// File is a regular file node.
type File interface {
	Node
	// Open returns a handle for reading.
	Open(ctx context.Context) (Handle, error)
}

// Symlink is a symbolic link node.
type Symlink interface {
	Node
	Readlink(ctx context.Context) (string, error)
}

// Handle reads an opened file. Safe for concurrent use: reads on one handle
// may arrive concurrently and out of order.
type Handle interface {
	// ReadAt returns up to n bytes at off, as parts of cached slices (no
	// copy). The caller must not modify them and must call Release once
	// it has used them (sent them to the kernel, copied them). It returns
	// empty Data at or past the end.
	ReadAt(ctx context.Context, off int64, n int) (Data, error)
	// Close releases the handle.
	Close() error
}

// Seeker is a Handle that finds holes: Seek(off, SeekData or SeekHole)
// as lseek(2) does.
type Seeker interface {
	Seek(off int64, whence int) (int64, error)
}

// Data is the result of a read: bytes in one or more parts, valid until
// Release.
type Data struct {
	parts [][]byte
	bufs  []*sliceBuf
}

// Parts returns the bytes, in order.
func (d Data) Parts() [][]byte { return d.parts }

// Len returns the number of bytes.
func (d Data) Len() int {
	n := 0
	for _, p := range d.parts {
		n += len(p)
	}
	return n
}

// CopyTo copies the bytes to p and returns how many it copied.
func (d Data) CopyTo(p []byte) int {
	n := 0
	for _, part := range d.parts {
		n += copy(p[n:], part)
	}
	return n
}

// Bytes returns the bytes in one slice: the part itself when there is one,
// else a copy.
func (d Data) Bytes() []byte {
	if len(d.parts) == 1 {
		return d.parts[0]
	}
	b := make([]byte, d.Len())
	d.CopyTo(b)
	return b
}

// Release gives the memory of the parts back to the slice cache. Release
// exactly once per Data; the parts must not be used afterwards.
func (d Data) Release() {
	for _, b := range d.bufs {
		b.release()
	}
}

// Statfs describes the file system for statfs(2).
type Statfs struct {
	BlockSize uint32
	Blocks    uint64 // size of the newest sessions' data, in BlockSize units
	Files     uint64 // entries in the newest sessions
	NameLen   uint32
}
