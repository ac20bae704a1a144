//go:build !linux

package engine

import (
	"os"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// applyMetaOpen leaves every file to applyMeta where futimens is not at hand.
func (rr *restoreRun) applyMetaOpen(fh *os.File, path string, n *snapshot.Node) bool { return false }
