package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func dirFlags(t *testing.T, path string) uint32 {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Skipf("no file flags here: %v", err)
	}
	return flags
}

// markTopDir sets the allocation hint and clearTopDir takes it off,
// leaving the folder's other flags as they were.
func TestMarkTopDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "top")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	before := dirFlags(t, dir)
	if !markTopDir(dir) {
		t.Skip("this file system refuses FS_TOPDIR_FL")
	}
	if got := dirFlags(t, dir); got != before|fsTopDirFlag {
		t.Errorf("flags after markTopDir %#x, want %#x", got, before|fsTopDirFlag)
	}
	clearTopDir(dir)
	if got := dirFlags(t, dir); got != before {
		t.Errorf("flags after clearTopDir %#x, want %#x", got, before)
	}
	if markTopDir(filepath.Join(dir, "absent")) {
		t.Error("markTopDir of a missing folder reported success")
	}
}

// A restore leaves no hint on the folders it made, whether it succeeds
// or fails while planning (a tree it cannot load).
func TestRestoreClearsTopDir(t *testing.T) {
	probe := filepath.Join(t.TempDir(), "probe")
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Fatal(err)
	}
	dirFlags(t, probe)
	if !markTopDir(probe) {
		t.Skip("this file system refuses FS_TOPDIR_FL")
	}
	r := newRepo(t)
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "deeper", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, names := range [][]string{{"a", "b"}, {"a", "missing"}} {
		s := sessionOf(t, r, src, names...)
		target := t.TempDir()
		_, err := Restore(context.Background(), r, s, RestoreOptions{Target: target})
		if (err != nil) != (names[1] == "missing") {
			t.Fatalf("restore of %v: %v", names, err)
		}
		for _, rel := range []string{"a", "a/sub", "a/sub/deeper"} {
			if f := dirFlags(t, filepath.Join(target, rel)); f&fsTopDirFlag != 0 {
				t.Errorf("restore of %v: %s keeps FS_TOPDIR_FL (flags %#x)", names, rel, f)
			}
		}
	}
}
