//go:build !windows

package engine

import (
	"os"
	"syscall"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// deviceOf is the file system fi is on.
func deviceOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev)
	}
	return 0
}

func fingerprintOf(fi os.FileInfo) fingerprint {
	st, ok := fi.Sys().(*syscall.Stat_t)
	fp := fingerprint{size: uint64(fi.Size()), mtime: uint64(fi.ModTime().UnixNano()), mode: uint32(fi.Mode())}
	if ok {
		fp.ctime = uint64(ctimeOf(st))
		fp.inode = uint64(st.Ino)
	}
	return fp
}

func (b *backupRun) nodeFromInfo(name, full string, fi os.FileInfo) snapshot.Node {
	n := snapshot.Node{Name: name, Type: snapshot.TypeOf(fi.Mode()), Mode: snapshot.ModeBits(fi.Mode()), ModTime: fi.ModTime().UnixNano()}
	if n.Type == snapshot.TypeFile {
		n.Size = uint64(fi.Size())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		n.UID, n.GID = st.Uid, st.Gid
		n.User, n.Group = b.names.user(st.Uid), b.names.group(st.Gid)
		if n.Type == snapshot.TypeFile && st.Nlink > 1 {
			n.Inode, n.DeviceID, n.Links = uint64(st.Ino), uint64(st.Dev), uint32(st.Nlink)
		}
		if n.Type == snapshot.TypeDevice || n.Type == snapshot.TypeCharDevice {
			n.Rdev = uint64(st.Rdev)
		}
	}
	if n.Type != snapshot.TypeFile {
		// Files' attributes are read in addEntryTx, which can reuse the
		// register's copy.
		n.Xattrs = readXattrs(full)
	}
	return n
}

// linkCount is the number of hard links to the file fi describes.
func linkCount(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
