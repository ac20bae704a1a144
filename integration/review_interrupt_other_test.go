//go:build linux

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reviewKill starts the binary with args, kills it with SIGKILL after
// delay and reports whether the kill came before it exited.
func reviewKill(t *testing.T, e *env, delay time.Duration, args ...string) bool {
	t.Helper()
	cmd := e.command(args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// reviewTimed runs the binary once (it must succeed) and returns how long
// it took.
func reviewTimed(e *env, args ...string) time.Duration {
	start := time.Now()
	e.mustRun(args...)
	return time.Since(start)
}

// reviewRepoState names every file of the repository with the hash of
// its content: what a read-only command must leave as it was.
func reviewRepoState(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out = append(out, rel+"/")
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out = append(out, rel+" "+hex.EncodeToString(sum[:8]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestReviewInterruptCheckReadData: a check --read-data killed at random
// moments leaves the repository byte for byte as it was, and the next
// check passes.
func TestReviewInterruptCheckReadData(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for i := range 6 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("d%d/big-%d.bin", i%2, i)), coreRandom(int64(i), 6<<20), 0o644)
	}
	for i := range 200 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("small/%d/f%d.txt", i%9, i)), []byte(strings.Repeat("y", i*7)), 0o644)
	}
	e.mustRun("backup", "--quiet", src)
	before := reviewRepoState(t, e.repo)
	took := reviewTimed(e, "check", "--read-data")

	killed := 0
	for range 8 {
		if reviewKill(t, e, time.Duration(rng.Int63n(int64(took)+1)), "check", "--read-data") {
			killed++
		}
		if after := reviewRepoState(t, e.repo); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Fatalf("a killed check changed the repository:\nbefore %q\nafter  %q", before, after)
		}
		e.mustRun("check")
	}
	t.Logf("%d of 8 checks killed mid-way", killed)
	e.mustCheck()
}

// TestReviewInterruptKeyChange: key add and key passwd killed at random
// moments. After each kill the password in use or the new one opens the
// repository (a kill never leaves it with no key a known password opens),
// and check passes.
func TestReviewInterruptKeyChange(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "a.txt"), []byte("kept\n"), 0o644)
	e.mustRun("backup", "--quiet", src)

	pwFile := func(i int) string {
		p := filepath.Join(e.dir, fmt.Sprintf("pw-%d", i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("password number %d\n", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	opens := func(pw string) bool {
		c := *e
		c.pwFile = pw
		return c.run("key", "list").code == 0
	}
	took := reviewTimed(e, "key", "passwd", "--new-password-file", pwFile(0))
	e.pwFile = filepath.Join(e.dir, "pw-0")

	killed := 0
	for i := 1; i <= 24; i++ {
		cmd := "passwd"
		if i%3 == 0 {
			cmd = "add"
		}
		next := pwFile(i)
		delay := time.Duration(rng.Int63n(int64(took)*3/2 + 1))
		if reviewKill(t, e, delay, "key", cmd, "--new-password-file", next) {
			killed++
		}
		oldOK, newOK := opens(e.pwFile), opens(next)
		if !oldOK && !newOK {
			t.Fatalf("key %s killed after %v: neither the old nor the new password opens the repository", cmd, delay)
		}
		if cmd == "add" && !oldOK {
			t.Fatalf("key add killed after %v: the password in use no longer opens the repository", delay)
		}
		if newOK && (cmd == "passwd" || rng.Intn(2) == 0) {
			e.pwFile = next
		}
		r := e.mustRun("key", "list")
		if strings.Contains(r.stdout, ".tmp-") {
			t.Fatalf("key list shows a file being written:\n%s", r.stdout)
		}
	}
	t.Logf("%d of 24 key changes killed mid-way", killed)
	e.mustRun("check")
	e.mustRun("sessions")
}

// TestReviewInterruptKeyPasswdDefault: key passwd on the default
// repository, whose generated password file is kept in step with the key,
// killed at random moments: the kept file opens the repository after
// every kill.
func TestReviewInterruptKeyPasswdDefault(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	e := newEnv(t)
	data := filepath.Join(e.dir, "xdg-data")
	pf := filepath.Join(data, "cabinet", "default-repository.password")
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY=", "CABINET_PASSWORD_FILE="}
	e.mustRun("init")
	newPw := func(i int) string {
		p := filepath.Join(e.dir, fmt.Sprintf("new-%d", i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("new password %d\n", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	took := reviewTimed(e, "key", "passwd", "--new-password-file", newPw(0))
	killed := 0
	for i := 1; i <= 16; i++ {
		delay := time.Duration(rng.Int63n(int64(took)*3/2 + 1))
		if reviewKill(t, e, delay, "key", "passwd", "--new-password-file", newPw(i)) {
			killed++
		}
		if r := e.run("key", "list"); r.code != 0 {
			kept, _ := os.ReadFile(pf)
			t.Fatalf("key passwd killed after %v: the kept password file (%q) no longer opens the repository: %s", delay, kept, r)
		}
	}
	t.Logf("%d of 16 key passwd killed mid-way", killed)
	e.mustRun("check")
}

// TestReviewInterruptRestoreFullDisk: a restore into a folder of a file
// system that fills up fails with one line and exit 1 and touches nothing
// beside its target; with room again the same restore (if-changed)
// completes and verifies.
func TestReviewInterruptRestoreFullDisk(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for i := range 4 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("big-%d.bin", i)), coreRandom(int64(40+i), 4<<20), 0o644)
	}
	for i := range 50 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("small/f%d.txt", i)), []byte(strings.Repeat("z", i)), 0o600)
	}
	e.mustRun("backup", "--quiet", src)

	disk := smallDisk(t, filepath.Join(e.dir, "disk"), "6m")
	beside := filepath.Join(disk, "beside", "keep.txt")
	coreWrite(t, beside, []byte("not the restore's\n"), 0o644)
	target := filepath.Join(disk, "target")
	r := e.run("restore", "--quiet", "--target", target, "latest")
	if r.code != 1 {
		t.Fatalf("restore onto a full disk: want exit 1, got %s", r)
	}
	coreOneLine(t, r.stderr, "disk is full")
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
		t.Errorf("want one line on a full disk, got:\n%s", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("a failed restore printed on standard output:\n%s", r.stdout)
	}
	entries, _ := os.ReadDir(disk)
	var names []string
	for _, d := range entries {
		names = append(names, d.Name())
	}
	if strings.Join(names, " ") != "beside target" {
		t.Errorf("the full file system holds %q, want only beside and target", names)
	}
	if got, _ := os.ReadFile(beside); string(got) != "not the restore's\n" {
		t.Errorf("a file beside the target changed: %q", got)
	}
	e.mustRun("check")

	if out, err := exec.Command("mount", "-o", "remount,size=64m", disk).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v: %s", err, out)
	}
	e.mustRun("restore", "--quiet", "--overwrite", "if-changed", "--target", target, "latest")
	v := e.mustRun("restore", "--verify", "--target", target, "latest")
	coreOneLine(t, v.stdout, ", 0 differ")
	coreDiff(t, src, coreRestored(target, src))
	coreCompareTrees(t, src, coreRestored(target, src))
	if got, _ := os.ReadFile(beside); string(got) != "not the restore's\n" {
		t.Errorf("a file beside the target changed: %q", got)
	}
}

// TestReviewInterruptReadOnlyCache: a cache folder on a read-only file
// system. backup completes with one warning about the register (exit 3),
// restore, check and sessions work without it, and check passes.
func TestReviewInterruptReadOnlyCache(t *testing.T) {
	base := newEnv(t)
	ro := smallDisk(t, filepath.Join(base.dir, "ro-cache"), "1m")
	if out, err := exec.Command("mount", "-o", "remount,ro", ro).CombinedOutput(); err != nil {
		t.Skipf("cannot remount the tmpfs read-only (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	e := *base
	e.cacheDir = filepath.Join(ro, "cache")
	src := filepath.Join(base.dir, "src")
	coreWrite(t, filepath.Join(src, "notes.txt"), []byte("no cache\n"), 0o644)
	coreWrite(t, filepath.Join(src, "blob.bin"), coreRandom(3, 2<<20), 0o644)
	r := e.run("backup", "--quiet", src)
	if r.code != 3 {
		t.Fatalf("backup with a read-only cache: want exit 3, got %s", r)
	}
	coreOneLine(t, r.stderr, "warning:", e.cacheDir, "read-only file system", "backing up without it")
	e.mustRun("sessions")
	target := filepath.Join(base.dir, "restore")
	e.mustRun("restore", "--quiet", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))
	e.mustCheck()
}

// TestReviewInterruptMountFullCache: mount with its cache folder on a full
// file system serves files as they were backed up.
func TestReviewInterruptMountFullCache(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no FUSE device")
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		t.Skip("no fusermount3")
	}
	base := newEnv(t)
	src := filepath.Join(base.dir, "src")
	coreWrite(t, filepath.Join(src, "notes.txt"), []byte("through the mount\n"), 0o644)
	coreWrite(t, filepath.Join(src, "blob.bin"), coreRandom(4, 5<<20), 0o644)
	base.mustRun("backup", "--quiet", src)

	full := fullDisk(t, filepath.Join(base.dir, "full-cache"))
	e := *base
	e.cacheDir = filepath.Join(full, "cache")

	mnt := filepath.Join(base.dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := e.command("mount", mnt)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	unmounted := false
	t.Cleanup(func() {
		if !unmounted {
			exec.Command("fusermount3", "-u", mnt).Run()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
	})
	latest := filepath.Join(mnt, "testdevice", "files", "latest")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(latest); err == nil {
			break
		}
		select {
		case err := <-done:
			unmounted = true
			t.Fatalf("mount with a full cache exited: %v\n%s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mount did not show %s in 20 s:\n%s", latest, errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	coreDiff(t, src, coreRestored(latest, src))
	if out, err := exec.Command("fusermount3", "-u", mnt).CombinedOutput(); err != nil {
		t.Fatalf("unmount: %v: %s", err, out)
	}
	select {
	case err := <-done:
		unmounted = true
		if err != nil {
			t.Errorf("mount after unmount: %v\n%s", err, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("mount did not exit after unmount:\n%s", errb.String())
	}
}

// TestReviewInterruptRegisterFullCache: a cache folder with room to open
// the register but not to write a run's entries. The backup completed
// with exit 0 and no word, and every later backup read every file again
// (the run was never recorded as completed) in silence; it is a warning
// (exit 3) naming the register, and the repository checks.
func TestReviewInterruptRegisterFullCache(t *testing.T) {
	base := newEnv(t)
	disk := smallDisk(t, filepath.Join(base.dir, "cache-disk"), "1m")
	coreWrite(t, filepath.Join(disk, "fill"), make([]byte, 1024*1024-96*1024), 0o644)
	e := *base
	e.cacheDir = filepath.Join(disk, "cache")
	src := filepath.Join(base.dir, "src")
	for d := range 20 {
		for f := range 300 {
			coreWrite(t, filepath.Join(src, fmt.Sprintf("dir-%02d/file-%03d.txt", d, f)), []byte(fmt.Sprintf("%d %d\n", d, f)), 0o644)
		}
	}
	for round := range 2 {
		r := e.run("backup", "--quiet", src)
		if r.code != 3 {
			t.Fatalf("backup %d with a register that cannot be written: want exit 3, got %s", round, r)
		}
		coreOneLine(t, r.stderr, "warning:", "register", "no space left on device", "the next backup reads every file")
	}
	target := filepath.Join(base.dir, "restore")
	e.mustRun("restore", "--quiet", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))
	e.mustCheck()
}
