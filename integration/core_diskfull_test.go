//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCoreDiskFull: a repository on a small file system that fills up
// during a backup. The backup fails with a clear message, the repository
// stays consistent, a smaller backup fits, and after the file system grows
// a full backup succeeds and restores.
func TestCoreDiskFull(t *testing.T) {
	base := newEnv(t)
	e := smallDiskRepo(t, base, "24m")

	src := filepath.Join(base.dir, "src")
	for i := range 8 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("big-%d.bin", i)), coreRandom(int64(100+i), 8<<20), 0o644)
	}
	r := e.run("backup", "--quiet", src)
	if r.code == 0 {
		t.Fatalf("64 MiB backup into a 24 MiB file system succeeded: %s", r)
	}
	if r.code != 1 {
		t.Errorf("full disk: want exit 1, got %d", r.code)
	}
	line := coreOneLine(t, r.stderr, "disk is full")
	t.Logf("full disk: %q", line)
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
		t.Errorf("want one line on a full disk, got:\n%s", r.stderr)
	}
	if ss := coreSessions(t, &e); len(ss) != 0 {
		t.Errorf("a failed backup left a session: %+v", ss)
	}

	// Consistent as it is, full disk and all.
	e.mustCheck()

	// A smaller backup fits in what is left. How much is left depends on
	// how many cabinets the failed backup finished (it keeps them), which
	// varies with timing: 0 to about 23.5 of the 24 MiB. The photo takes
	// a quarter of what is free, and the disk grows a little when almost
	// nothing is.
	free := freeBytes(t, filepath.Dir(e.repo))
	if free < 256<<10 {
		if out, err := exec.Command("mount", "-o", "remount,size=25m", filepath.Dir(e.repo)).CombinedOutput(); err != nil {
			t.Fatalf("grow the tmpfs: %v: %s", err, out)
		}
		free = freeBytes(t, filepath.Dir(e.repo))
	}
	t.Logf("free after the failed backup: %d bytes", free)
	small := filepath.Join(base.dir, "small")
	coreWrite(t, filepath.Join(small, "notes.txt"), []byte("a small file\n"), 0o644)
	coreWrite(t, filepath.Join(small, "photo.bin"), coreRandom(5, int(min(free/4, 1<<20))), 0o644)
	s, _ := coreBackup(t, &e, 0, small)
	if s.Status != "completed" {
		t.Errorf("small backup: status %q", s.Status)
	}
	e.mustCheck()

	// After the disk grows, the big backup succeeds and restores.
	if out, err := exec.Command("mount", "-o", "remount,size=256m", filepath.Dir(e.repo)).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v: %s", err, out)
	}
	coreBackup(t, &e, 0, src)
	e.mustCheck()
	target := filepath.Join(base.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))
	target2 := filepath.Join(base.dir, "restore-small")
	ss := coreSessions(t, &e)
	e.mustRun("restore", "--target", target2, ss[0].ID)
	coreDiff(t, small, coreRestored(target2, small))

	// Restoring 64 MiB onto a 24 MiB file system fails just as clearly.
	out := smallDisk(t, filepath.Join(base.dir, "small-target"), "24m")
	r = e.run("restore", "--quiet", "--target", out, "latest")
	if r.code != 1 {
		t.Errorf("restore onto a full disk: want exit 1, got %s", r)
	}
	coreOneLine(t, r.stderr, "disk is full")
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
		t.Errorf("want one line on a full disk, got:\n%s", r.stderr)
	}
	// With room again the same restore finishes: the part-written file is
	// written again, the finished ones are skipped.
	if msg, err := exec.Command("mount", "-o", "remount,size=256m", out).CombinedOutput(); err != nil {
		t.Fatalf("grow the restore tmpfs: %v: %s", err, msg)
	}
	e.mustRun("restore", "--quiet", "--target", out, "latest")
	coreDiff(t, src, coreRestored(out, src))
}

// TestCoreCacheDiskFull: the cache folder (register, index and tree
// caches) on a full file system. The register is only a cache: the backup
// reads every file, completes with one warning (exit 3), and restores.
func TestCoreCacheDiskFull(t *testing.T) {
	base := newEnv(t)
	mnt := fullDisk(t, filepath.Join(base.dir, "full-cache"))
	e := *base
	e.cacheDir = filepath.Join(mnt, "cache")

	src := filepath.Join(base.dir, "src")
	coreWrite(t, filepath.Join(src, "notes.txt"), []byte("kept without a cache\n"), 0o644)
	coreWrite(t, filepath.Join(src, "photo.bin"), coreRandom(9, 3<<20), 0o644)
	r := e.run("backup", "--quiet", src)
	if r.code != 3 {
		t.Fatalf("backup with a full cache disk: want exit 3 (warnings), got %s", r)
	}
	if !strings.Contains(r.stderr, "backing up without it") {
		t.Errorf("no warning about the register:\n%s", r.stderr)
	}
	target := filepath.Join(base.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))
	e.mustCheck()
}

// smallDiskRepo returns base with a new repository (and its own cache) on
// a small file system of size, initialised.
func smallDiskRepo(t *testing.T, base *env, size string) env {
	t.Helper()
	mnt := smallDisk(t, filepath.Join(base.dir, "small-disk"), size)
	e := *base
	e.repo = filepath.Join(mnt, "repo")
	e.cacheDir = filepath.Join(base.dir, "cache-small")
	e.mustRun("init")
	return e
}

// smallDisk mounts a tmpfs of size at dir for the test (skipping it where
// no tmpfs can be mounted) and returns dir.
func smallDisk(t *testing.T, dir, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// freeBytes returns the bytes free to an unprivileged user on the file
// system holding path.
func freeBytes(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatalf("statfs %s: %v", path, err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fullDisk mounts a small tmpfs at dir (see smallDisk), fills it and
// returns dir.
func fullDisk(t *testing.T, dir string) string {
	t.Helper()
	smallDisk(t, dir, "1m")
	fill, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer fill.Close()
	for {
		if _, err := fill.Write(make([]byte, 4096)); err != nil {
			return dir
		}
	}
}

// TestCoreRestoreReadOnlyTarget: a restore into a read-only file system
// fails, exit 1, naming the target and the cause, instead of "finished
// with warnings" (exit 3) after 0 files.
func TestCoreRestoreReadOnlyTarget(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "sub", "a.txt"), []byte("a\n"), 0o644)
	coreBackup(t, e, 0, src)
	ro := smallDisk(t, filepath.Join(e.dir, "ro"), "1m")
	if out, err := exec.Command("mount", "-o", "remount,ro", ro).CombinedOutput(); err != nil {
		t.Skipf("cannot remount the tmpfs read-only (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	r := e.run("restore", "--target", ro, "latest")
	if r.code != 1 {
		t.Errorf("restore into a read-only file system: want exit 1, got %d: %s", r.code, r)
	}
	coreOneLine(t, r.stderr, ro, "read-only file system")
	coreOneLine(t, r.stderr, "nothing could be restored into "+ro)
}
