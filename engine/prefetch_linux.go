package engine

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// prefetchFiles is how many small files the processing queue asks the
// kernel to read ahead of the readers. Eight readers blocked in cold reads
// of one small file each left the cores 10 % in I/O wait through an initial
// backup of the benchmark corpus; with the next files already in flight
// they find the data in the page cache (32, 64, 128 and 256 gave the same).
const prefetchFiles = 64

// prefetchFile opens a small file for its reader (openSource) and starts
// reading it into the page cache without waiting for it (posix_fadvise
// WILLNEED). The reader reads from the returned file instead of opening
// it again: an open and a close less per file, 157,000 system calls on
// the corpus. A file that cannot be opened gives nil and is left to the
// reader, which reports it.
func prefetchFile(path string, size int64) *os.File { return prefetchSource(path, size, 0, "") }

// prefetchSource is prefetchFile of a file the scan saw as inode, found
// under the scanned folder top (see openSource).
func prefetchSource(path string, size int64, inode uint64, top string) *os.File {
	fh, err := openSource(path, inode, top)
	if err != nil {
		return nil
	}
	unix.Fadvise(int(fh.Fd()), 0, size, unix.FADV_WILLNEED)
	return fh
}

// adviseSequential tells the kernel a large file is read from start to
// end, which doubles its read-ahead: initial backup of the corpus, six
// interleaved pairs, 8.66-10.02 s (mean 9.34) against 8.77-11.18 s (9.91).
func adviseSequential(fh *os.File) {
	unix.Fadvise(int(fh.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
}

// ReadsAhead reports whether processing has the kernel read small files
// ahead of their readers, so that readers seldom block in read(2).
const ReadsAhead = true

// adviseWillNeed asks the kernel to start reading [off, off+n) of a file
// into the page cache, without waiting for it.
func adviseWillNeed(fh *os.File, off, n int64) {
	unix.Fadvise(int(fh.Fd()), off, n, unix.FADV_WILLNEED)
}

// noSymlinkBelow checks that the file at path, below the folder top, is
// reached without a symlink (openat2 RESOLVE_NO_SYMLINKS from top) and is
// the file dev and ino name: a folder swapped for a symlink since the scan
// is errNotRegular. Where the kernel lacks openat2 (before 5.6) or the
// path is too long for one call, nothing is checked.
func noSymlinkBelow(top, path string, dev, ino uint64) error {
	rel, ok := strings.CutPrefix(path, top)
	if !ok || top == "" {
		return nil
	}
	rel = strings.TrimLeft(rel, "/")
	if rel == "" {
		return nil
	}
	dir, err := retryEINTR(func() (int, error) {
		return unix.Open(top, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil // the open of path went well: leave it to the read
	}
	defer unix.Close(dir)
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat2(dir, rel, &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_NO_SYMLINKS,
		})
	})
	switch {
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV):
		return errNotRegular
	case err != nil:
		return nil // ENOSYS, ENAMETOOLONG, ...: not checked
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && (uint64(st.Dev) != dev || uint64(st.Ino) != ino) {
		return errNotRegular // replaced again meanwhile
	}
	return nil
}
