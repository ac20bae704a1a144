//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewCLILatestOfSeveralDevices: in a repository two devices back
// up into, 'latest' names a session of each (the mount shows
// <device>/files/latest), as a time of several devices does: restore
// refuses it (exit 2, one line) until --device picks one. It restored the
// newest session of any device: on this device, CABINET_DEVICE set,
// 'cabinet restore latest' brought back the other device's files, over
// this one's without --target.
func TestReviewCLILatestOfSeveralDevices(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	f := filepath.Join(src, "who.txt")
	coreWrite(t, f, []byte("this device"), 0o644)
	coreBackup(t, e, 0, src) // CABINET_DEVICE=testdevice
	coreWrite(t, f, []byte("laptop"), 0o644)
	coreBackup(t, e, 0, "--device", "laptop", src)

	r := e.expectCode(2, "restore", "--target", t.TempDir(), "latest")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 {
		t.Errorf("want a one-line message, got:\n%s", r.stderr)
	}
	coreOneLine(t, r.stderr, "latest", "--device", `"testdevice"`, `"laptop"`)
	if r.stdout != "" {
		t.Errorf("a refused restore printed %q", r.stdout)
	}
	for device, want := range map[string]string{"testdevice": "this device", "laptop": "laptop"} {
		target := t.TempDir()
		e.mustRun("restore", "--device", device, "--target", target, "latest")
		if data, _ := os.ReadFile(coreRestored(target, f)); string(data) != want {
			t.Errorf("restore --device %s latest: %q, want %q", device, data, want)
		}
	}
}
