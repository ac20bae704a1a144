// Package local implements backend.Backend on a local directory. Every write
// goes to a temporary file in the destination folder, is fsynced and then
// renamed, so a crash never leaves a partial object under its final name.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/cabinetbackup/cabinet/internal/directio"
	"github.com/cabinetbackup/cabinet/repo/backend"
)

// TempPrefix starts the names of files being written; readers skip them and
// check reports left-over ones from interrupted writes.
const TempPrefix = ".tmp-"

// Backend is a repository kept in a local directory.
type Backend struct {
	root string

	mu      sync.Mutex
	madeDir map[string]bool
	handles map[string]*os.File
}

var _ backend.Backend = (*Backend)(nil)
var _ backend.ReaderAtBackend = (*Backend)(nil)
var _ backend.TempFileBackend = (*Backend)(nil)

// New returns a backend rooted at dir. The directory need not exist yet.
func New(dir string) *Backend {
	return &Backend{root: dir, madeDir: map[string]bool{}, handles: map[string]*os.File{}}
}

// Location implements backend.Backend.
func (b *Backend) Location() string { return b.root }

func (b *Backend) path(name string) string {
	return filepath.Join(b.root, filepath.FromSlash(name))
}

// notFound marks a missing object as backend.ErrNotFound; so is one below
// a path that is a file (ENOTDIR): a location that is not a folder holds
// no repository.
func notFound(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s: %w", name, backend.ErrNotFound)
	}
	return err
}

// Get implements backend.Backend.
func (b *Backend) Get(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if offset == 0 && length == 0 {
		data, err := os.ReadFile(b.path(name))
		return data, notFound(name, err)
	}
	f, err := b.OpenReaderAt(ctx, name)
	if err != nil {
		return nil, err
	}
	if length == 0 {
		fi, err := f.(*os.File).Stat()
		if err != nil {
			return nil, err
		}
		length = fi.Size() - offset
		if length < 0 {
			return nil, fmt.Errorf("%s: offset %d beyond end %d", name, offset, fi.Size())
		}
	}
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err == io.EOF && int64(n) == length {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read %d bytes at %d: %w", name, length, offset, err)
	}
	return buf, nil
}

// OpenReaderAt implements backend.ReaderAtBackend. Handles are kept open for
// the life of the backend (stored files are immutable).
func (b *Backend) OpenReaderAt(ctx context.Context, name string) (io.ReaderAt, error) {
	b.mu.Lock()
	f := b.handles[name]
	b.mu.Unlock()
	if f != nil {
		return f, nil
	}
	f, err := os.Open(b.path(name))
	if err != nil {
		return nil, notFound(name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.handles[name]; old != nil {
		f.Close()
		return old, nil
	}
	if len(b.handles) > 512 {
		// Forgotten, not closed: a reader that got this handle earlier may
		// be inside ReadAt (a restore or a mount reading a repository of
		// more than 512 cabinets got "file already closed"). The runtime
		// closes the file once nothing uses it.
		for k := range b.handles {
			delete(b.handles, k)
			break
		}
	}
	b.handles[name] = f
	return f, nil
}

// WillRead implements backend.ReadAdvisor on the cached handle of name.
func (b *Backend) WillRead(ctx context.Context, name string, off, length int64) {
	h, err := b.OpenReaderAt(ctx, name)
	if f, ok := h.(*os.File); ok && err == nil { // else the read that follows reports it
		adviseWillNeed(f, off, length)
	}
}

// Close releases cached file handles.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, h := range b.handles {
		h.Close()
		delete(b.handles, k)
	}
	return nil
}

// Put implements backend.Backend: temp file, fsync, rename, fsync of the folder.
func (b *Backend) Put(ctx context.Context, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	final := b.path(name)
	dir := filepath.Dir(final)
	if err := b.mkdir(dir, name); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	t := &tempFile{b: b, f: f}
	if _, err := f.Write(data); err != nil {
		t.Abort()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return t.Commit(ctx, name)
}

// TempFile implements backend.TempFileBackend. The file is created in the
// folder dir/xx of its final name only at Commit, so it starts in dir.
func (b *Backend) TempFile(ctx context.Context, dir string) (backend.TempFile, error) {
	d := b.path(dir)
	if err := b.mkdir(d, dir); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(d, TempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("create file in %s: %w", dir, err)
	}
	t := &tempFile{b: b, f: f}
	if directio.Enable(f) {
		t.stage = directio.Buffer(tempStage)
	}
	return t, nil
}

// tempStage is how much a temporary file gathers before it writes, when it
// writes past the page cache.
const tempStage = 1 << 20

// tempFile is a file being written. Where the file system takes O_DIRECT
// it is written past the page cache (package directio: a cabinet is
// written once and read back seldom) in stage-sized writes; the last,
// partial block is written zero-padded and cut off again at Commit.
type tempFile struct {
	b     *Backend
	f     *os.File
	stage []byte // nil: written through the page cache
	n     int    // bytes gathered in stage
	size  int64  // bytes written so far
}

func (t *tempFile) Write(p []byte) (int, error) {
	if t.stage == nil {
		n, err := t.f.Write(p)
		t.size += int64(n)
		return n, err
	}
	written := 0
	for written < len(p) {
		k := copy(t.stage[t.n:], p[written:])
		t.n += k
		written += k
		if t.n == len(t.stage) {
			if err := t.flush(t.n); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// flush writes stage[:n], then forgets it.
func (t *tempFile) flush(n int) error {
	_, err := t.f.Write(t.stage[:n])
	if err != nil && directio.Disable(t.f) {
		// Opened with O_DIRECT, refused at the write (an alignment the
		// file system does not take): the page cache from here on.
		_, err = t.f.Write(t.stage[:n])
	}
	if err != nil {
		return err
	}
	t.size += int64(t.n) // not the padding
	t.n = 0
	return nil
}

// finishDirect writes what stage still holds: whole blocks, the last one
// zero-padded, then cuts the file to the bytes written.
func (t *tempFile) finishDirect() error {
	if t.stage == nil || t.n == 0 {
		return nil
	}
	if err := t.flush(directio.Pad(t.stage, t.n)); err != nil {
		return err
	}
	return t.f.Truncate(t.size)
}

func (t *tempFile) Abort() error {
	t.f.Close()
	return os.Remove(t.f.Name())
}

// Commit fsyncs the file, makes it read-only and renames it to name.
func (t *tempFile) Commit(ctx context.Context, name string) error {
	tmp := t.f.Name()
	fail := func(err error) error {
		t.f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := t.finishDirect(); err != nil {
		return fail(err)
	}
	if err := t.f.Sync(); err != nil {
		return fail(err)
	}
	if err := t.f.Chmod(0o400); err != nil {
		return fail(err)
	}
	if err := t.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	final := t.b.path(name)
	dir := filepath.Dir(final)
	if err := t.b.mkdir(dir, name); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return syncDir(dir)
}

func (b *Backend) mkdir(dir, name string) error {
	b.mu.Lock()
	made := b.madeDir[dir]
	b.mu.Unlock()
	if made {
		return nil
	}
	// Made folders are made durable in their parents, as files are in
	// theirs: after a power loss an index must not name a cabinet whose
	// folder entry never reached the disk.
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create folder for %s: %w", name, err)
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("create folder for %s: %w", name, err)
		}
	}
	b.mu.Lock()
	b.madeDir[dir] = true
	b.mu.Unlock()
	return nil
}

// List implements backend.Backend.
func (b *Backend) List(ctx context.Context, dir string, fn func(backend.FileInfo) error) error {
	entries, err := os.ReadDir(b.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), TempPrefix) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		if err := fn(backend.FileInfo{Name: e.Name(), Size: fi.Size()}); err != nil {
			return err
		}
	}
	return nil
}

// ListDirs implements backend.Backend.
func (b *Backend) ListDirs(ctx context.Context, dir string) ([]string, error) {
	entries, err := os.ReadDir(b.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs, nil
}

// TempFiles lists left-over temporary files (from writes interrupted by a
// crash) below the repository root.
func (b *Backend) TempFiles() ([]string, error) {
	var found []string
	err := filepath.WalkDir(b.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), TempPrefix) {
			rel, _ := filepath.Rel(b.root, p)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	return found, err
}

// Stat implements backend.Backend.
func (b *Backend) Stat(ctx context.Context, name string) (backend.FileInfo, error) {
	fi, err := os.Stat(b.path(name))
	if err != nil {
		return backend.FileInfo{}, notFound(name, err)
	}
	return backend.FileInfo{Name: filepath.Base(name), Size: fi.Size()}, nil
}

// Delete implements backend.Backend.
func (b *Backend) Delete(ctx context.Context, name string) error {
	b.mu.Lock()
	if h := b.handles[name]; h != nil {
		h.Close()
		delete(b.handles, name)
	}
	b.mu.Unlock()
	err := os.Remove(b.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
