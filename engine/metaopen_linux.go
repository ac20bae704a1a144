package engine

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// applyMetaOpen sets ownership (as root), mode and times of a regular file
// through its open descriptor: three path lookups fewer per file than
// applyMeta. It reports false, leaving the file to applyMeta, when the
// file has extended attributes.
func (rr *restoreRun) applyMetaOpen(fh *os.File, path string, n *snapshot.Node) bool {
	if len(n.Xattrs) > 0 {
		return false
	}
	if rr.root {
		if err := fh.Chown(int(n.UID), int(n.GID)); err != nil {
			rr.warn(path, err)
		}
	}
	if err := fh.Chmod(fileMode(n.Mode)); err != nil {
		rr.warn(path, err)
	}
	// utimensat with no path is futimens(3), which x/sys does not wrap;
	// Futimes would cut the times to microseconds.
	ts := [2]unix.Timespec{unix.NsecToTimespec(n.ModTime), unix.NsecToTimespec(n.ModTime)}
	if _, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, fh.Fd(), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); errno != 0 {
		rr.warn(path, &os.PathError{Op: "futimens", Path: path, Err: errno})
	}
	return true
}
