package engine

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func folderFlags(t *testing.T, p string) uint32 {
	t.Helper()
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Skipf("inode flags of %s: %v (a file system without them)", p, err)
	}
	return flags
}

func TestMarkTop(t *testing.T) {
	root := t.TempDir()
	made := filepath.Join(root, "made")
	if err := os.Mkdir(made, 0o755); err != nil {
		t.Fatal(err)
	}
	before := folderFlags(t, made)
	if !markTop(made) {
		t.Skip("the file system takes no top-of-hierarchy mark")
	}
	if got := folderFlags(t, made); got != before|fsTopDir {
		t.Fatalf("marked: flags %#x, want %#x", got, before|fsTopDir)
	}
	unmarkTop(made)
	if got := folderFlags(t, made); got != before {
		t.Fatalf("unmarked: flags %#x, want %#x as before", got, before)
	}

	// A folder the user marked keeps the mark: markTop leaves it alone.
	own := filepath.Join(root, "own")
	if err := os.Mkdir(own, 0o755); err != nil {
		t.Fatal(err)
	}
	if !markTop(own) {
		t.Fatal("second folder not marked")
	}
	if markTop(own) {
		t.Fatal("markTop reports marking a folder marked already")
	}
	if got := folderFlags(t, own); got&fsTopDir == 0 {
		t.Fatalf("flags %#x lost the mark", got)
	}
}
