//go:build linux

package integration

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// longPathDirs are the folder names from the source folder down to the
// deep files: 18 of 250 bytes, so the deep paths are over 4,500 bytes,
// more than PATH_MAX (4096), which every path-taking system call refuses.
func longPathDirs() []string {
	names := make([]string, 18)
	for i := range names {
		names[i] = strings.Repeat(string(rune('a'+i)), 250)
	}
	return names
}

// openSteps opens root/names... one name at a time (O_PATH), as a path
// that long cannot be opened whole.
func openSteps(t testing.TB, root string, names []string) int {
	t.Helper()
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		next, err := unix.Openat(fd, n, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("open %s below %s: %v", n[:8]+"...", root, err)
		}
		fd = next
	}
	return fd
}

// procPath is a short path to name in the folder open as fd.
func procPath(fd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + name
}

// TestCoreLongPaths backs up and restores files whose paths are longer
// than PATH_MAX: a file with an extended attribute, a symlink, a hard link
// and a FIFO. restic and borg skip them with "file name too long".
func TestCoreLongPaths(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	dirs := longPathDirs()
	fd, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range dirs {
		if err := unix.Mkdirat(fd, n, 0o750); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	content := coreRandom(77, 200<<10)
	coreWrite(t, procPath(fd, "deep.bin"), content, 0o640)
	if err := unix.Linkat(fd, "deep.bin", fd, "deep-link.bin", 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Symlinkat("deep.bin", fd, "deep-symlink"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifoat(fd, "deep-fifo", 0o600); err != nil {
		t.Fatal(err)
	}
	xattrs := unix.Lsetxattr(procPath(fd, "deep.bin"), "user.cabinet", []byte("deep value"), 0) == nil
	mtime := []unix.Timespec{unix.NsecToTimespec(1_700_000_000_123_456_789), unix.NsecToTimespec(1_700_000_000_123_456_789)}
	if err := unix.UtimesNanoAt(fd, "deep.bin", mtime, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	deep := filepath.Join(append(append([]string{src}, dirs...), "deep.bin")...)
	if _, err := os.Lstat(deep); !errors.Is(err, unix.ENAMETOOLONG) {
		t.Fatalf("lstat of the whole %d-byte path: %v, want ENAMETOOLONG", len(deep), err)
	}

	s, r := coreBackup(t, e, 0, src)
	if s.Summary.FilesNew != 2 || s.Status != "completed" {
		t.Fatalf("backup of the deep tree: %+v, want 2 new files and no warning\n%s", s.Summary, r)
	}

	target := filepath.Join(e.dir, "restored")
	r = e.mustRun("restore", "--verify", "--target", target, "latest")
	coreOneLine(t, r.stdout, "1 file, 22 folders, 1 hard link")
	coreOneLine(t, r.stdout, "verified 1 file, 0 differ")
	got := openSteps(t, coreRestored(target, src), dirs)
	defer unix.Close(got)
	data, err := os.ReadFile(procPath(got, "deep.bin"))
	if err != nil || !bytes.Equal(data, content) {
		t.Fatalf("restored deep file: %d bytes, %v; want %d bytes as backed up", len(data), err, len(content))
	}
	var st, st2 unix.Stat_t
	if err := unix.Fstatat(got, "deep.bin", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o640 || unix.TimespecToNsec(st.Mtim) != 1_700_000_000_123_456_789 {
		t.Errorf("restored deep file: mode %o, mtime %d; want 640 and the backed-up time", st.Mode&0o7777, unix.TimespecToNsec(st.Mtim))
	}
	if err := unix.Fstatat(got, "deep-link.bin", &st2, unix.AT_SYMLINK_NOFOLLOW); err != nil || st2.Ino != st.Ino {
		t.Errorf("restored deep hard link: inode %d, %v; want the deep file's %d", st2.Ino, err, st.Ino)
	}
	buf := make([]byte, 64)
	if n, err := unix.Readlinkat(got, "deep-symlink", buf); err != nil || string(buf[:n]) != "deep.bin" {
		t.Errorf("restored deep symlink: %q, %v", buf[:n], err)
	}
	if err := unix.Fstatat(got, "deep-fifo", &st2, unix.AT_SYMLINK_NOFOLLOW); err != nil || st2.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("restored deep FIFO: mode %o, %v", st2.Mode, err)
	}
	if xattrs {
		val := make([]byte, 64)
		n, err := unix.Lgetxattr(procPath(got, "deep.bin"), "user.cabinet", val)
		if err != nil || string(val[:n]) != "deep value" {
			t.Errorf("restored deep file's extended attribute: %q, %v", val[:n], err)
		}
	}

	// Restored again over itself: the file is unchanged and skipped.
	st3 := coreRestoreJSON(t, e, "--target", target, "latest")
	if st3.Skipped != 1 || st3.Files != 0 || st3.Warnings != 0 {
		t.Errorf("restore over the deep tree: %+v, want the file skipped as unchanged", st3)
	}
	// A second backup finds the deep files unchanged (the register keys
	// them by their long paths too).
	s2, _ := coreBackup(t, e, 0, src)
	if s2.Summary.FilesUnchanged != 2 || s2.Summary.BytesRead != 0 {
		t.Errorf("second backup of the deep tree: %+v, want 2 unchanged files, nothing read", s2.Summary)
	}
	e.mustCheck()
}
