// Package backend defines the storage interface a cabinet repository is kept
// in: a flat namespace of immutable named files, grouped in folders. The
// local directory backend lives in backend/local; an object store backend
// implements the same interface.
package backend

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned (wrapped) by Get and Stat when a file does not exist.
var ErrNotFound = errors.New("not found")

// FileInfo describes one stored file.
type FileInfo struct {
	Name string // name relative to the folder that was listed
	Size int64
}

// Backend stores repository files. Names use '/' as separator
// ("data/3f/3f9a..."). Implementations must be safe for concurrent use.
type Backend interface {
	// Get returns length bytes of name starting at offset; length 0 reads to
	// the end. A missing file gives an error wrapping ErrNotFound.
	Get(ctx context.Context, name string, offset, length int64) ([]byte, error)
	// Put stores data under name atomically: readers see either nothing or
	// the whole file, also after a crash or a kill at any moment.
	Put(ctx context.Context, name string, data []byte) error
	// List calls fn for every file directly in folder dir, in no set order.
	List(ctx context.Context, dir string, fn func(FileInfo) error) error
	// ListDirs returns the names of the sub-folders of dir.
	ListDirs(ctx context.Context, dir string) ([]string, error)
	// Stat returns the size of name, or an error wrapping ErrNotFound.
	Stat(ctx context.Context, name string) (FileInfo, error)
	// Delete removes name; deleting a missing file is not an error.
	Delete(ctx context.Context, name string) error
	// Location says where the repository is, for messages.
	Location() string
}

// ReaderAtBackend is an optional capability: backends that can hand out a
// reusable random-access handle (local files) implement it so hot read paths
// skip an open per request.
type ReaderAtBackend interface {
	OpenReaderAt(ctx context.Context, name string) (io.ReaderAt, error)
}

// ReadAdvisor is an optional capability: backends that can start fetching
// a range of a file before it is read (local files: posix_fadvise) implement
// it, so a reader of many consecutive blobs does not wait on each in turn.
// It is a hint: it reports nothing and may do nothing.
type ReadAdvisor interface {
	WillRead(ctx context.Context, name string, off, length int64)
}

// TempFileBackend is an optional capability: backends that can stream a
// new file to storage (local folders) implement it, so cabinets are written
// as they fill instead of being held in memory.
type TempFileBackend interface {
	// TempFile starts a new file; nothing is visible until Commit.
	TempFile(ctx context.Context, dir string) (TempFile, error)
}

// TempFile is a file being written. Commit makes it visible under name
// atomically (after it is durable); Abort discards it.
type TempFile interface {
	io.Writer
	Commit(ctx context.Context, name string) error
	Abort() error
}
