package fs_test

import (
	"fmt"
	"testing"

	"github.com/cabinetbackup/cabinet/fs/fstest"
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func findNode(t *testing.T, r *repo.Repository, root blob.ID, path string) *snapshot.Node {
	return fstest.FindNode(t, r, root, path)
}
