//go:build !windows

package engine

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openSource opens a file the scan found to be regular, for a backup to
// read. A FIFO or device put in its place since then would block the open
// or the reads for ever; opened non-blocking and checked with fstat, it
// is an error instead (the descriptor is made blocking again, so
// os.NewFile leaves it out of the poller). It is opened without
// following a symlink put in its place since the scan (O_NOFOLLOW). One
// followed would put the content of its target, any file the backup can
// read, into the session under the file's name. inode is the one the scan
// saw; a file that is another one now may have been reached through a
// folder swapped for a symlink since the scan (O_NOFOLLOW covers the last
// name only): then the path below top, the scanned folder it was found
// under, must hold no symlink (noSymlinkBelow).
func openSource(path string, inode uint64, top string) (*os.File, error) {
	fd, err := openFD(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &os.PathError{Op: "open", Path: path, Err: errNotRegular}
	}
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err = syscall.Fstat(fd, &st); err == nil && st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		err = errNotRegular
	}
	if err == nil && inode != 0 && uint64(st.Ino) != inode {
		err = noSymlinkBelow(top, path, uint64(st.Dev), uint64(st.Ino))
	}
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0)
	}
	if err != nil {
		syscall.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
