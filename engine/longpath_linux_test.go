package engine

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// deepFolder makes below root folders of names of 200 bytes until their
// path is at least n bytes, one at a time relative to the one before, and
// returns the path.
func deepFolder(t *testing.T, root string, n int) string {
	t.Helper()
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { unix.Close(fd) }()
	path := root
	for i := 0; len(path) < n; i++ {
		name := strings.Repeat(string(rune('a'+i%26)), 200)
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		fd = next
		path += "/" + name
	}
	return path
}

func TestInPath(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name  string
		depth int // bytes of folder path at least
	}{
		{"short", 0},
		{"just below PATH_MAX", unix.PathMax - 300},
		{"past PATH_MAX", unix.PathMax + 10},
		{"past twice PATH_MAX", 2*unix.PathMax + 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := deepFolder(t, mkdirTemp(t, root), tc.depth)
			file := dir + "/file"
			if err := inPath(file, func(p string) error { return os.WriteFile(p, []byte("x"), 0o600) }); err != nil {
				t.Fatalf("write %d-byte path: %v", len(file), err)
			}
			fi, err := lstat(file)
			if err != nil || fi.Size() != 1 || fi.Name() != "file" {
				t.Fatalf("lstat %d-byte path: %v, %v", len(file), fi, err)
			}
			if err := symlink("file", dir+"/link"); err != nil {
				t.Fatal(err)
			}
			if target, err := readlink(dir + "/link"); err != nil || target != "file" {
				t.Fatalf("readlink: %q, %v", target, err)
			}
			if err := link(file, dir+"/hard"); err != nil {
				t.Fatal(err)
			}
			if err := mkdir(dir+"/sub", 0o700); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{dir + "/sub", dir + "/hard", dir + "/link", file} {
				if err := remove(p); err != nil {
					t.Fatal(err)
				}
			}
			// An error names the path asked for, not the /proc alias.
			_, err = lstat(file)
			var pe *os.PathError
			if !errors.As(err, &pe) || pe.Path != file || !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("lstat of a removed file: %v, want not-exist naming the path", err)
			}
		})
	}
}

// A name of PATH_MAX bytes has no folder to open first: the kernel's
// error comes back as it is.
func TestInPathOneLongName(t *testing.T) {
	for _, p := range []string{strings.Repeat("n", unix.PathMax), "/" + strings.Repeat("n", unix.PathMax)} {
		if _, err := lstat(p); !errors.Is(err, unix.ENAMETOOLONG) {
			t.Errorf("lstat of a %d-byte name: %v, want ENAMETOOLONG", len(p), err)
		}
	}
}

func mkdirTemp(t *testing.T, root string) string {
	d, err := os.MkdirTemp(root, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
