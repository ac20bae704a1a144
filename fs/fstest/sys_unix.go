//go:build unix

package fstest

import (
	"os"
	"syscall"

	"github.com/cabinetbackup/cabinet/snapshot"
)

func fillSys(n *snapshot.Node, fi os.FileInfo) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	n.UID, n.GID = st.Uid, st.Gid
	n.Rdev = uint64(st.Rdev)
	if n.Type == snapshot.TypeFile && st.Nlink > 1 {
		n.Links = uint32(st.Nlink)
		n.Inode = st.Ino
		n.DeviceID = uint64(st.Dev)
	}
}
