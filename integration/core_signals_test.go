//go:build linux

package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCoreBusy: while a session of a device holds its register, another
// backup of the same device and data source exits 11 with a clear message;
// another device is not held up.
func TestCoreBusy(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("data"), 0o644)
	e.mustRun("backup", src)
	regs, _ := filepath.Glob(filepath.Join(e.cacheDir, "*", "register-testdevice-*.db"))
	if len(regs) != 1 {
		t.Fatalf("register of testdevice: found %q", regs)
	}
	// Hold the register's lock as a running backup does.
	f, err := os.OpenFile(regs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	r := e.expectCode(11, "backup", src)
	coreOneLine(t, r.stderr, "another session", "running")
	coreBackup(t, e, 0, "--device", "other-device", src)
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	e.mustRun("backup", src)
	e.mustCheck()
}

// TestCoreInterrupt: SIGINT or SIGTERM during a backup ends it with exit
// 130 and a message; the repository passes check and the next backup
// succeeds.
func TestCoreInterrupt(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for i := range 12 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("f%02d.bin", i)), coreRandom(int64(i), 8<<20), 0o644)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			var e *env
			interrupted := false
			for _, delay := range []time.Duration{300 * time.Millisecond, 100 * time.Millisecond, 30 * time.Millisecond} {
				e = newEnv(t)
				cmd := e.command("backup", "--quiet", src)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(delay)
				cmd.Process.Signal(sig)
				cmd.Wait()
				code := cmd.ProcessState.ExitCode()
				if code == 0 {
					t.Logf("backup finished within %v; trying a shorter delay", delay)
					continue
				}
				if code != 130 {
					t.Fatalf("backup interrupted by %v: want exit 130, got %d\n%s", sig, code, stderr.String())
				}
				coreOneLine(t, stderr.String(), "interrupted", "consistent")
				if n := strings.Count(strings.TrimSpace(stderr.String()), "\n"); n != 0 {
					t.Errorf("want one line, got:\n%s", stderr.String())
				}
				interrupted = true
				break
			}
			if !interrupted {
				t.Skip("every backup finished before the signal")
			}
			if ss := coreSessions(t, e); len(ss) != 0 {
				t.Errorf("an interrupted backup saved a session: %+v", ss)
			}
			e.mustRun("check")
			e.mustRun("backup", "--quiet", src)
			e.mustCheck()
			target := filepath.Join(e.dir, "restore")
			e.mustRun("restore", "--target", target, "latest")
			coreDiff(t, src, coreRestored(target, src))
		})
	}
}
