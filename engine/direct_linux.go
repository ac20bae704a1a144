package engine

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openDirect opens an existing file for writing with O_DIRECT; direct is
// false where the file system refuses the flag (the file is then opened
// without it).
func openDirect(path string) (fh *os.File, direct bool, err error) {
	fh, err = openFile(path, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err == nil {
		return fh, true, nil
	}
	if !errors.Is(err, syscall.EINVAL) {
		return nil, false, err
	}
	fh, err = openFile(path, os.O_WRONLY, 0)
	return fh, false, err
}

// dropDirect takes O_DIRECT off fh and reports whether it is off now.
func dropDirect(fh *os.File) bool {
	fd := fh.Fd()
	flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return false
	}
	if flags&unix.O_DIRECT == 0 {
		return true
	}
	_, err = unix.FcntlInt(fd, unix.F_SETFL, flags&^unix.O_DIRECT)
	return err == nil
}
