//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCoreDeviceNames: any device name works as a sessions folder and
// comes back exactly; each device has its own sessions and register.
func TestCoreDeviceNames(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	f := filepath.Join(src, "who.txt")
	devices := []string{"ann's laptop", "a/b", "..", ".hidden", "ünïcödé", "%41", "with space", "x\\y"}
	for _, d := range devices {
		coreWrite(t, f, []byte(d), 0o644)
		s, _ := coreBackup(t, e, 0, "--device", d, src)
		if s.Device != d || s.Parent != "" || s.Summary.FilesNew != 1 {
			t.Errorf("device %q: session %+v", d, s)
		}
	}
	all := coreSessions(t, e)
	if len(all) != len(devices) {
		t.Fatalf("%d sessions, want %d", len(all), len(devices))
	}
	for _, d := range devices {
		ss := coreSessions(t, e, "--device", d)
		if len(ss) != 1 || ss[0].Device != d {
			t.Errorf("sessions --device %q: %+v", d, ss)
			continue
		}
		target := t.TempDir()
		e.mustRun("restore", "--device", d, "--target", target, "latest")
		if data, _ := os.ReadFile(coreRestored(target, f)); string(data) != d {
			t.Errorf("restore --device %q latest: %q", d, data)
		}
	}
	// A device without sessions, likely misspelt: the ones there are are named.
	r := e.mustRun("sessions", "--device", "ann's laptp")
	coreOneLine(t, r.stdout, `no sessions of device "ann's laptp"`, "ann's laptop", "with space")
	// Nothing escaped the sessions folder.
	ents, _ := os.ReadDir(e.repo)
	for _, en := range ents {
		switch en.Name() {
		case "config", "keys", "data", "index", "sessions":
		default:
			t.Errorf("unexpected entry %q in the repository", en.Name())
		}
	}
	e.mustCheck()
}
