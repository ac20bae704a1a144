package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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
		if left, _ := filepath.Glob(filepath.Join(target, "a", ".cabinet-mkdir-*")); len(left) > 0 {
			t.Errorf("restore of %v left %v", names, left)
		}
		for _, rel := range []string{"a", "a/sub", "a/sub/deeper"} {
			if f := dirFlags(t, filepath.Join(target, rel)); f&fsTopDirFlag != 0 {
				t.Errorf("restore of %v: %s keeps FS_TOPDIR_FL (flags %#x)", names, rel, f)
			}
		}
	}
}

// mkdirSpread makes the folder under its own name, refuses one that is
// there (as mkdir does, so plan's handling of a folder made meanwhile
// holds), and leaves no folder under a temporary name.
func TestMkdirSpread(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "spread")
	if err := mkdirSpread(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(path); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("after mkdirSpread: %v, %v", fi, err)
	}
	if err := os.WriteFile(filepath.Join(parent, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"spread", "file"} {
		if err := mkdirSpread(filepath.Join(parent, name), 0o700); !errors.Is(err, os.ErrExist) {
			t.Errorf("mkdirSpread over the %s there: %v, want ErrExist", name, err)
		}
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "file spread" {
		t.Errorf("the parent holds %q, want only file and spread", got)
	}
}
