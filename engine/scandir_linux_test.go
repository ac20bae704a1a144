//go:build linux && (amd64 || arm64)

package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestFolderMatchesOS lists a folder larger than one getdents buffer, with
// every kind of entry, and checks the names and attributes against os's.
func TestFolderMatchesOS(t *testing.T) {
	dir := t.TempDir()
	for i := range 3000 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file with a long name to fill buffers %05d", i)), []byte("x"), 0o640)
	}
	os.WriteFile(filepath.Join(dir, "setuid"), []byte("data"), 0o4755)
	os.WriteFile(filepath.Join(dir, "name\nwith\xff"), nil, 0o600)
	os.Mkdir(filepath.Join(dir, "sticky"), 0o1777)
	os.Chmod(filepath.Join(dir, "sticky"), 0o1777|os.ModeSticky)
	os.Symlink("setuid", filepath.Join(dir, "link"))
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600)

	f, err := openFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	got, err := f.names()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		want = append(want, e.Name())
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("%d names, want os's %d", len(got), len(want))
	}
	for _, name := range []string{"setuid", "name\nwith\xff", "sticky", "link", "fifo", want[0]} {
		fi, err := f.lstat(name)
		if err != nil {
			t.Fatal(err)
		}
		ofi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Name() != ofi.Name() || fi.Size() != ofi.Size() || fi.Mode() != ofi.Mode() || !fi.ModTime().Equal(ofi.ModTime()) || fi.IsDir() != ofi.IsDir() {
			t.Errorf("%q: %v %v %v %v, os says %v %v %v %v", name, fi.Name(), fi.Size(), fi.Mode(), fi.ModTime(), ofi.Name(), ofi.Size(), ofi.Mode(), ofi.ModTime())
		}
		if *fi.Sys().(*syscall.Stat_t) != *ofi.Sys().(*syscall.Stat_t) {
			t.Errorf("%q: stat %+v, os says %+v", name, fi.Sys(), ofi.Sys())
		}
	}
	if _, err := f.lstat("missing"); !os.IsNotExist(err) {
		t.Fatalf("missing entry: %v", err)
	}
	if _, err := openFolder(filepath.Join(dir, "link")); err == nil {
		t.Fatal("a symlink opened as a folder")
	}
}
