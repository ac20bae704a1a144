//go:build !unix

package fstest

import (
	"os"

	"github.com/cabinetbackup/cabinet/snapshot"
)

func fillSys(*snapshot.Node, os.FileInfo) {}
