//go:build !windows

package engine

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// applyMeta sets ownership (as root), mode, extended attributes and times.
func (rr *restoreRun) applyMeta(path string, n *snapshot.Node) {
	if rr.root {
		if err := inPath(path, func(p string) error { return os.Lchown(p, int(n.UID), int(n.GID)) }); err != nil {
			rr.warn(path, err)
		}
	}
	// Attributes before the mode: a user's attributes (user.*) need write
	// access, which a read-only mode takes away from a user.
	// A read-only file or folder already there (one restored before) is
	// made writable for its owner while they are written.
	if len(n.Xattrs) > 0 {
		err := writeXattrs(path, n.Xattrs)
		if errors.Is(err, os.ErrPermission) && n.Type != snapshot.TypeSymlink &&
			inPath(path, func(p string) error { return os.Chmod(p, fileMode(n.Mode)|0o200) }) == nil {
			err = writeXattrs(path, n.Xattrs)
		}
		if err != nil {
			rr.warn(path, err)
		}
	}
	if n.Type != snapshot.TypeSymlink {
		if err := inPath(path, func(p string) error { return os.Chmod(p, fileMode(n.Mode)) }); err != nil {
			rr.warn(path, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(n.ModTime), unix.NsecToTimespec(n.ModTime)}
	if err := inPath(path, func(p string) error { return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		rr.warn(path, err)
	}
}

// makeSpecial makes a FIFO or a device node at path. A socket is not made
// (made is false): it is the endpoint of a program, which makes it anew
// when it starts.
func makeSpecial(path string, n *snapshot.Node) (made bool, err error) {
	var mode uint32
	switch n.Type {
	case snapshot.TypeFIFO:
		mode = unix.S_IFIFO
	case snapshot.TypeDevice:
		mode = unix.S_IFBLK
	case snapshot.TypeCharDevice:
		mode = unix.S_IFCHR
	default:
		return false, nil
	}
	remove(path)
	return true, inPath(path, func(p string) error { return mknod(p, mode|n.Mode&0o7777, n.Rdev) })
}

// sameOwner reports whether fi has the owner and group of n.
func sameOwner(fi os.FileInfo, n *snapshot.Node) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == n.UID && st.Gid == n.GID
}
