package engine

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cabinetbackup/cabinet/snapshot"
)

func (rr *restoreRun) applyMeta(path string, n *snapshot.Node) {
	if n.Type != snapshot.TypeSymlink {
		os.Chmod(path, fileMode(n.Mode))
		t := time.Unix(0, n.ModTime)
		if err := os.Chtimes(path, t, t); err != nil {
			rr.warn(path, err)
		}
	}
}

// makeSpecial makes nothing: Windows has no FIFOs or device nodes, and a
// socket is not made anywhere (meta_unix.go).
func makeSpecial(path string, n *snapshot.Node) (made bool, err error) {
	if n.Type == snapshot.TypeSocket {
		return false, nil
	}
	return false, fmt.Errorf("%w: a %s node cannot be made on Windows; left out", errors.ErrUnsupported, n.Type)
}

// sameOwner reports whether fi has the owner and group of n: Windows
// restores no owner.
func sameOwner(os.FileInfo, *snapshot.Node) bool { return true }
