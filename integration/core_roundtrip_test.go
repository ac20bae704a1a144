//go:build linux

package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// coreNodeKinds builds a tree with every kind of node cabinet stores and
// returns the paths of its hard links and sparse file.
func coreNodeKinds(t *testing.T, src string) (links []string, sparse string, xattrs bool) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	type file struct {
		path string
		data []byte
		mode os.FileMode
	}
	files := []file{
		{"docs/report.txt", []byte("quarterly report\n"), 0o644},
		{"docs/big.bin", coreRandom(1, 3<<20+123), 0o644},
		{"docs/empty", nil, 0o644},
		{"private/secret", []byte("only me\n"), 0o600},
		{"bin/tool", []byte("#!/bin/sh\necho hi\n"), 0o755},
		{"readonly", []byte("ro"), 0o444},
		{"setuid-tool", []byte("su"), os.ModeSetuid | 0o755},
		{"unicode/héllo wörld ✓ 日本語.txt", []byte("unicode name\n"), 0o644},
		{"weird/new\nline", []byte("newline in the name\n"), 0o644},
		{"weird/bad\xff\xfeutf8", []byte("invalid UTF-8 in the name\n"), 0o644},
		{"weird/ leading space and -dash", []byte("x"), 0o644},
		{"links/a/original", coreRandom(2, 70<<10), 0o640},
		{"owned/file", []byte("owned by 1234:5678\n"), 0o640},
		{"times/before-1970", []byte("old"), 0o644},
		{"times/year-2200", []byte("future"), 0o644},
		{"long/" + strings.Repeat("n", 255), []byte("a name of 255 bytes"), 0o644},
		{"long/" + strings.Repeat("é", 127), []byte("254 bytes of UTF-8"), 0o644},
		{"weird/back\\slash:colon*star?[x]", []byte("metacharacters"), 0o644},
	}
	for _, f := range files {
		coreWrite(t, filepath.Join(src, f.path), f.data, 0o644)
		must(os.Chmod(filepath.Join(src, f.path), f.mode))
	}
	// Modes of folders: setgid, sticky, private.
	must(os.MkdirAll(filepath.Join(src, "shared/sub"), 0o755))
	must(os.Chmod(filepath.Join(src, "shared"), os.ModeSetgid|0o775))
	coreWrite(t, filepath.Join(src, "shared/sub/f"), []byte("in a setgid folder"), 0o644)
	must(os.Mkdir(filepath.Join(src, "sticky"), 0o755))
	must(os.Chmod(filepath.Join(src, "sticky"), os.ModeSticky|0o777))
	must(os.Chmod(filepath.Join(src, "private"), 0o700))
	must(os.Mkdir(filepath.Join(src, "emptydir"), 0o750))

	// Hard links: three names of one file in different folders.
	must(os.MkdirAll(filepath.Join(src, "links/b"), 0o755))
	links = []string{filepath.Join(src, "links/a/original"), filepath.Join(src, "links/b/second"), filepath.Join(src, "links/third")}
	must(os.Link(links[0], links[1]))
	must(os.Link(links[0], links[2]))

	// Symlinks: relative, absolute, dangling, to a folder.
	must(os.Symlink("../docs/report.txt", filepath.Join(src, "bin/rel-link")))
	must(os.Symlink(filepath.Join(src, "docs/big.bin"), filepath.Join(src, "abs-link")))
	must(os.Symlink("does/not/exist", filepath.Join(src, "dangling")))
	must(os.Symlink("docs", filepath.Join(src, "dir-link")))

	// A FIFO.
	must(unix.Mkfifo(filepath.Join(src, "pipe"), 0o620))

	// A sparse file: 64 MiB with data only at the start and the end.
	sparse = filepath.Join(src, "sparse.img")
	f, err := os.Create(sparse)
	must(err)
	must(f.Truncate(64 << 20))
	_, err = f.WriteAt(coreRandom(3, 4096), 0)
	must(err)
	_, err = f.WriteAt(coreRandom(4, 4096), 64<<20-4096)
	must(err)
	must(f.Close())

	// Ownership (the test runs as root).
	must(os.Lchown(filepath.Join(src, "owned/file"), 1234, 5678))
	must(os.Lchown(filepath.Join(src, "owned"), 1234, 5678))
	must(os.Symlink("file", filepath.Join(src, "owned/link")))
	must(os.Lchown(filepath.Join(src, "owned/link"), 1234, 5678))
	must(os.Lchown(filepath.Join(src, "shared/sub/f"), 0, 5678))

	// Extended attributes, if the file system takes them.
	xattrs = true
	if err := unix.Setxattr(filepath.Join(src, "docs/report.txt"), "user.comment", []byte("hello xattr"), 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			t.Logf("file system refuses user xattrs (%v): not testing them", err)
			xattrs = false
		} else {
			t.Fatal(err)
		}
	}
	if xattrs {
		must(unix.Setxattr(filepath.Join(src, "docs/report.txt"), "user.binary", []byte{0, 1, 2, 255}, 0))
		must(unix.Setxattr(filepath.Join(src, "docs"), "user.folder", []byte("on a folder"), 0))
		must(unix.Setxattr(filepath.Join(src, "docs/empty"), "user.empty-value", nil, 0))
	}

	// Times with nanoseconds, children before parents, symlinks too.
	ns := int64(1_600_000_000_123_456_789)
	var paths []string
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		paths = append(paths, p)
		return nil
	})
	for i := len(paths) - 1; i >= 0; i-- {
		ns += 1_000_000_007
		ts := []unix.Timespec{unix.NsecToTimespec(ns), unix.NsecToTimespec(ns)}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	// Times before 1970 and far ahead.
	for p, ns := range map[string]int64{"times/before-1970": -315_619_200_000_000_000 + 123_456_789, "times/year-2200": 7_258_118_400_000_000_001} {
		ts := []unix.Timespec{unix.NsecToTimespec(ns), unix.NsecToTimespec(ns)}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, p), ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	return links, sparse, xattrs
}

func TestCoreRoundTripEveryNodeKind(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown, setuid bits)")
	}
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	links, sparse, xattrs := coreNodeKinds(t, src)

	s, _ := coreBackup(t, e, 0, src)
	if s.Status != "completed" || s.Summary.Warnings != 0 {
		t.Fatalf("backup status %q, %d warnings", s.Status, s.Summary.Warnings)
	}
	e.mustCheck()

	target := filepath.Join(e.dir, "restore")
	r := e.mustRun("restore", "--target", target, "--verify", "latest")
	got := coreRestored(target, src)
	coreDiff(t, src, got)
	coreCompareTrees(t, src, got)
	t.Logf("restore: %s", r.stdout)

	// Hard links come back as links of one inode.
	ino := coreInode(t, filepath.Join(got, mustRel(t, src, links[0])))
	for _, l := range links[1:] {
		if g := coreInode(t, filepath.Join(got, mustRel(t, src, l))); g != ino {
			t.Errorf("hard link %s restored as inode %d, want %d (same as %s)", l, g, ino, links[0])
		}
	}

	// The sparse file stays sparse.
	rs := filepath.Join(got, mustRel(t, src, sparse))
	fi, err := os.Stat(rs)
	if err != nil {
		t.Fatal(err)
	}
	alloc := fi.Sys().(*syscall.Stat_t).Blocks * 512
	t.Logf("sparse file: size %d, allocated %d after restore", fi.Size(), alloc)
	if alloc > 1<<20 {
		t.Errorf("restored sparse file of %d bytes allocates %d bytes: holes were filled", fi.Size(), alloc)
	}

	// Owner, setgid and xattrs spot checks (the walk compares all of them too).
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(got, "owned/file"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("owned/file restored as %d:%d, want 1234:5678", st.Uid, st.Gid)
	}
	if fi, err := os.Stat(filepath.Join(got, "shared")); err != nil || fi.Mode()&os.ModeSetgid == 0 {
		t.Errorf("setgid folder lost its bit: %v %v", fi.Mode(), err)
	}
	if xattrs {
		v := make([]byte, 64)
		n, err := unix.Getxattr(filepath.Join(got, "docs/report.txt"), "user.comment", v)
		if err != nil || string(v[:n]) != "hello xattr" {
			t.Errorf("xattr user.comment after restore: %q, %v", v[:max(n, 0)], err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(got, "pipe")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("FIFO not restored as a FIFO: %v", err)
	}

	// Restoring again over the result changes nothing (if-changed skips
	// every file).
	again := coreRestoreJSON(t, e, "--target", target, "latest")
	if again.Files != 0 || again.Skipped == 0 {
		t.Errorf("second restore over an identical tree: %+v, want every file skipped", again)
	}
	coreDiff(t, src, got)
	coreCompareTrees(t, src, got)

	// Without --target the files go back where they were.
	orig := src + ".orig"
	if err := os.Rename(src, orig); err != nil {
		t.Fatal(err)
	}
	e.mustRun("restore", "--include", src, "latest")
	coreDiff(t, orig, src)
	coreCompareTrees(t, orig, src)
	if a, b := coreInode(t, links[0]), coreInode(t, links[1]); a != b {
		t.Errorf("hard links restored in place are inodes %d and %d", a, b)
	}
}

// TestCoreBackupExclude: --exclude patterns (names and paths) keep files
// and folders out of a session.
func TestCoreBackupExclude(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for _, p := range []string{"keep.txt", "skip.tmp", "sub/keep2.txt", "sub/skip2.tmp", "cache/big.bin", "sub/cache/kept-not-top.txt", "node_modules/m.js"} {
		coreWrite(t, filepath.Join(src, p), []byte(p), 0o644)
	}
	s, _ := coreBackup(t, e, 0, "--exclude", "*.tmp", "--exclude", filepath.Join(src, "cache"), "--exclude", "node_modules", src)
	if s.Summary.TotalFiles != 3 {
		t.Errorf("backup with excludes counted %d files, want 3", s.Summary.TotalFiles)
	}
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	got := coreFiles(t, coreRestored(target, src))
	want := []string{"keep.txt", "sub/cache/kept-not-top.txt", "sub/keep2.txt"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("restored %q, want %q", got, want)
	}
}

func mustRel(t testing.TB, base, p string) string {
	t.Helper()
	rel, err := filepath.Rel(base, p)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// TestCoreBackupOverlappingPaths: paths given twice, or inside another
// given path, are backed up once; the session stays readable.
func TestCoreBackupOverlappingPaths(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for _, p := range []string{"a.txt", "sub/b.txt", "sub/deeper/c.txt", "subx/d.txt", "other/e.txt"} {
		coreWrite(t, filepath.Join(src, p), []byte(p), 0o644)
	}
	all := []string{"a.txt", "other/e.txt", "sub/b.txt", "sub/deeper/c.txt", "subx/d.txt"}
	cases := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"same path twice", []string{src, src}, all},
		{"folder then its sub-folder", []string{src, filepath.Join(src, "sub")}, all},
		{"sub-folder then its folder", []string{filepath.Join(src, "sub"), src}, all},
		{"a file inside a given folder", []string{filepath.Join(src, "sub/b.txt"), filepath.Join(src, "sub")}, []string{"sub/b.txt", "sub/deeper/c.txt"}},
		{"same folder spelled differently", []string{src + "/", filepath.Join(src, "sub", "..")}, all},
		{"siblings with a common prefix", []string{filepath.Join(src, "sub"), filepath.Join(src, "subx")}, []string{"sub/b.txt", "sub/deeper/c.txt", "subx/d.txt"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := coreFor(t, e)
			s, _ := coreBackup(t, e, 0, c.paths...)
			if s.Summary.TotalFiles != int64(len(c.want)) {
				t.Errorf("backup %q counted %d files, want %d", c.paths, s.Summary.TotalFiles, len(c.want))
			}
			e.mustRun("check")
			target := t.TempDir()
			e.mustRun("restore", "--target", target, s.ID)
			got := coreFiles(t, coreRestored(target, src))
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("restored %q, want %q", got, c.want)
			}
		})
	}
}

// TestCorePosixACLsRoundTrip: POSIX ACLs (a file's access ACL and a
// folder's default ACL, kept as system.posix_acl_* extended attributes)
// come back on restore, also from a session that took the file unchanged
// from the register.
func TestCorePosixACLsRoundTrip(t *testing.T) {
	for _, tool := range []string{"setfacl", "getfacl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make test installs the acl package)", tool)
		}
	}
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "shared.txt"), []byte("for nobody too"), 0o640)
	if err := os.MkdirAll(filepath.Join(src, "drop"), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-m", "u:nobody:rw", filepath.Join(src, "shared.txt")},
		{"-d", "-m", "u:nobody:rx", filepath.Join(src, "drop")},
	} {
		if out, err := exec.Command("setfacl", args...).CombinedOutput(); err != nil {
			t.Skipf("setfacl %v: %v %s (no ACL support on this file system)", args, err, out)
		}
	}
	acls := func(root string) string {
		t.Helper()
		cmd := exec.Command("getfacl", "--omit-header", "shared.txt", "drop")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("getfacl in %s: %v %s", root, err, out)
		}
		return string(out)
	}
	want := acls(src)
	if !strings.Contains(want, "user:nobody:rw-") || !strings.Contains(want, "default:user:nobody:r-x") {
		t.Fatalf("setfacl did not take: %s", want)
	}
	coreBackup(t, e, 0, src)
	coreBackup(t, e, 0, src) // unchanged: attributes from the register
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	if got := acls(coreRestored(target, src)); got != want {
		t.Errorf("restored ACLs:\n%s\nwant:\n%s", got, want)
	}
}
