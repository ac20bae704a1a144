package engine

import (
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

func makeSpecial(path string, n *snapshot.Node) error { return nil }
