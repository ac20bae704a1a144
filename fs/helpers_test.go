package fs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func findNode(t *testing.T, r *repo.Repository, root blob.ID, path string) *snapshot.Node {
	t.Helper()
	id := root
	parts := strings.Split(path, "/")
	for i, p := range parts {
		tree, err := snapshot.LoadTree(context.Background(), r, id)
		if err != nil {
			t.Fatal(err)
		}
		n := tree.Find(p)
		if n == nil {
			t.Fatalf("%s: no %s", path, p)
		}
		if i == len(parts)-1 {
			return n
		}
		id = n.Subtree
	}
	return nil
}
