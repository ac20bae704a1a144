//go:build linux

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/fs/fstest"
)

// TestReviewMountCacheSize: a --cache-size that is no size of memory is
// wrong usage (exit 2), before any repository is opened. 1e30 bytes
// overflowed to a negative size, which fs then replaced by its default
// without a word; NaN and Inf passed the "> 0" test as well.
func TestReviewMountCacheSize(t *testing.T) {
	mountRequire(t)
	e := newEnv(t)
	e.extraEnv = append(e.extraEnv, "CABINET_REPOSITORY="+filepath.Join(e.dir, "no-repository"))
	mp := filepath.Join(e.dir, "mnt")
	for _, size := range []string{"1e30", "1e30GiB", "NaN", "Inf", "0.1", "-5MiB", "0"} {
		r := e.run("mount", "--cache-size", size, mp)
		if r.code != 2 || !strings.Contains(r.stderr, "--cache-size") {
			t.Errorf("--cache-size %s: %s", size, r)
		}
	}
	// A sane size reaches the repository (none here: exit 10).
	if r := e.run("mount", "--cache-size", "64MiB", mp); r.code != 10 {
		t.Errorf("--cache-size 64MiB: %s", r)
	}
}

// TestReviewMountJSON: mount --json says on standard output, as one JSON
// object, that the mount is ready and where (scripts wait for it);
// before, --json printed nothing there.
func TestReviewMountJSON(t *testing.T) {
	mountRequire(t)
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("x"), 0o644)
	mountBackup(t, e, src)
	mp := filepath.Join(e.dir, "mnt")
	cmd := e.command("mount", "--json", mp)
	var stdout, stderr fstest.Output
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		exec.Command("umount", "-l", mp).Run()
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), "\n") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var got struct {
		Mountpoint string `json:"mountpoint"`
		Adapter    string `json:"adapter"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil || got.Mountpoint != mp || got.Adapter == "" {
		t.Fatalf("mount --json printed %q (%v), want {\"mountpoint\": %q, \"adapter\": ...}; stderr:\n%s", stdout.String(), err, mp, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(mp, "testdevice", "files", "latest", src, "f")); err != nil {
		t.Errorf("not mounted when --json said so: %v", err)
	}
}
