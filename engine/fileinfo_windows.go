package engine

import (
	"os"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// deviceOf is 0: Windows volumes are backed up whole (a backup path is on
// one volume, and folders mounted inside it are reparse points, not walked).
func deviceOf(os.FileInfo) uint64 { return 0 }

func fingerprintOf(fi os.FileInfo) fingerprint {
	return fingerprint{size: uint64(fi.Size()), mtime: uint64(fi.ModTime().UnixNano()), mode: uint32(fi.Mode())}
}

func (b *backupRun) nodeFromInfo(name, full string, fi os.FileInfo) snapshot.Node {
	n := snapshot.Node{Name: name, Type: snapshot.TypeOf(fi.Mode()), Mode: snapshot.ModeBits(fi.Mode()), ModTime: fi.ModTime().UnixNano()}
	if n.Type == snapshot.TypeFile {
		n.Size = uint64(fi.Size())
	}
	return n
}

func readXattrs(string) []snapshot.Xattr { return nil }

// linkCount is 1: os.FileInfo does not tell a file's links on Windows.
func linkCount(os.FileInfo) uint64 { return 1 }
