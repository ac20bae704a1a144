//go:build !windows

package engine

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openFile is os.OpenFile for regular files without the poller: os.OpenFile
// tries to register every file with epoll, which regular files refuse, and
// switches it to non-blocking and back, five system calls per file wasted
// (400,000 on a restore of 78,000 files). os.NewFile checks only whether
// the descriptor is non-blocking. A symlink at path is not followed
// (ELOOP): the restore opens only files it makes, and one swapped for a
// symlink after the restore looked must not send its bytes elsewhere.
func openFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	fd, err := openFD(path, flag|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openFD opens path close-on-exec, retrying on EINTR.
func openFD(path string, flag int, perm os.FileMode) (fd int, err error) {
	err = inPath(path, func(p string) error {
		fd, err = retryEINTR(func() (int, error) { return syscall.Open(p, flag|syscall.O_CLOEXEC, uint32(perm.Perm())) })
		if err != nil {
			return &os.PathError{Op: "open", Path: p, Err: err} // inPath names path in it
		}
		return nil
	})
	if err != nil {
		return -1, err
	}
	return fd, nil
}

// retryEINTR runs call until it is not interrupted by a signal.
func retryEINTR(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// errNotRegular is the error for a file the scan saw as a regular file
// that is something else when it is read.
var errNotRegular = errors.New("not a regular file any more (replaced since the scan)")
