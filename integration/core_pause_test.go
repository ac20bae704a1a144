//go:build !windows

package integration

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdRestoreLock takes a restore's share of the lock that cabinet restore
// holds in the cache folder while it runs (the engine's pause.go); the
// returned func gives it back.
func holdRestoreLock(t *testing.T, cacheDir string) func() {
	t.Helper()
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(cacheDir, "restore.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// TestCoreBackupPausesForRestore: a backup started while a restore runs
// reads no file until the restore ends, says so in its progress line, and
// then completes; Ctrl-C while it waits ends it with exit code 130.
func TestCoreBackupPausesForRestore(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "a.txt"), []byte("a file\n"), 0o644)
	coreWrite(t, filepath.Join(src, "b.bin"), coreRandom(1, 1<<20), 0o644)

	release := holdRestoreLock(t, e.cacheDir)
	cmd := e.command("backup", src)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sawPause := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "paused while a restore runs") {
				select {
				case sawPause <- sc.Text():
				default:
				}
			}
		}
	}()
	select {
	case line := <-sawPause:
		t.Logf("progress while paused: %q", line)
	case <-time.After(30 * time.Second):
		t.Fatal("the backup printed no pause in 30 s while a restore held the lock")
	}
	if ss := coreSessions(t, e); len(ss) != 0 {
		t.Fatalf("the backup saved a session while a restore ran: %+v", ss)
	}
	release()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("backup after the restore ended: %v", err)
	}
	if ss := coreSessions(t, e); len(ss) != 1 || ss[0].Summary.FilesNew != 2 {
		t.Fatalf("sessions after the pause: %+v", ss)
	}

	// Ctrl-C while paused.
	coreWrite(t, filepath.Join(src, "c.txt"), []byte("another\n"), 0o644)
	release = holdRestoreLock(t, e.cacheDir)
	defer release()
	cmd = e.command("backup", "--quiet", src)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("a paused backup did not end on SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("paused backup interrupted: exit %d, want 130", code)
	}
	e.mustCheck()
}
