package engine

import (
	"os"

	"github.com/cabinetbackup/cabinet/snapshot"
)

func fingerprintOf(fi os.FileInfo) fingerprint {
	return fingerprint{size: uint64(fi.Size()), mtime: uint64(fi.ModTime().UnixNano()), mode: uint32(fi.Mode())}
}

func (b *backupRun) nodeFromInfo(name, full string, fi os.FileInfo) snapshot.Node {
	n := snapshot.Node{Name: name, Mode: modeBits(fi.Mode()), ModTime: fi.ModTime().UnixNano()}
	switch m := fi.Mode(); {
	case m.IsRegular():
		n.Type = snapshot.TypeFile
		n.Size = uint64(fi.Size())
	case m.IsDir():
		n.Type = snapshot.TypeDir
	case m&os.ModeSymlink != 0:
		n.Type = snapshot.TypeSymlink
	default:
		n.Type = snapshot.TypeFile
	}
	return n
}

func readXattrs(string) []snapshot.Xattr { return nil }
