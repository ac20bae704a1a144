//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

// TestReviewCLIWarningOffTheProgressBar: a warning printed while the
// progress bar is drawn on a terminal starts a line of its own. It was
// written after the bar, on its line ("... [0s:1s]warning: ..."), and the
// next draw of the bar overwrote its beginning.
func TestReviewCLIWarningOffTheProgressBar(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	large := filepath.Join(src, "large.bin")
	coreWrite(t, large, coreRandom(1, 1<<20), 0o644)
	coreWrite(t, filepath.Join(src, "other.txt"), []byte("stays\n"), 0o644)

	release := holdRestoreLock(t, e.cacheDir)
	defer release()
	ptm, pts := openPTY(t)
	cmd := e.command("backup", src)
	shown := startOnPTY(t, cmd, ptm, pts)
	waitShown(t, cmd, shown, "paused while a restore runs") // the bar is drawn
	// Replaced by a symlink between the scan and its read: a warning.
	if err := os.Remove(large); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(e.dir, "elsewhere"), large); err != nil {
		t.Fatal(err)
	}
	release()
	cmd.Wait()
	pts.Close()
	waitShown(t, cmd, shown, "saved")
	out := shown()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("exit %d, want 3\n%q", code, out)
	}
	i := strings.Index(out, "warning: ")
	if i < 0 {
		t.Fatalf("no warning shown: %q", out)
	}
	if i > 0 && out[i-1] != '\n' && out[i-1] != '\r' {
		t.Fatalf("the warning shares the progress bar's line: %q", out[max(0, i-80):min(len(out), i+60)])
	}
}

// TestReviewCLIProgressNoAbsurdETA: a backup of seconds shows no time left
// in hours on its progress bar. Bytes count when a file is read whole, so
// after a small file the rate was a few bytes a second, and the bar
// predicted "[0s:58h15m3s]" for a backup that ended seconds later.
func TestReviewCLIProgressNoAbsurdETA(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	large := filepath.Join(src, "large.bin")
	coreWrite(t, large, coreRandom(1, 3<<20), 0o644)
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(large, past, past); err != nil { // read after the small file
		t.Fatal(err)
	}
	coreWrite(t, filepath.Join(src, "small.txt"), []byte("small\n"), 0o644)

	ptm, pts := openPTY(t)
	cmd := e.command("backup", "--limit-upload", "1024", src)
	shown := startOnPTY(t, cmd, ptm, pts)
	cmd.Wait()
	pts.Close()
	waitShown(t, cmd, shown, "saved")
	out := shown()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d\n%q", code, out)
	}
	if m := regexp.MustCompile(`[0-9]+h[0-9]+m[0-9]+s`).FindString(out); m != "" {
		t.Fatalf("the progress bar predicted %s for a backup of seconds:\n%q", m, out)
	}
}

// TestReviewCLISessionsEmptyTag: 'sessions --tag ""' is wrong usage, as
// it is for backup (exit 2, one line). It listed "no sessions tagged "
// and exited 0, so a script whose tag variable was empty went on as if
// the repository held nothing.
func TestReviewCLISessionsEmptyTag(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("x"), 0o644)
	coreBackup(t, e, 0, "--tag", "daily", src)
	for _, args := range [][]string{{"sessions", "--tag", ""}, {"sessions", "--json", "--tag", " "}} {
		r := e.expectCode(2, args...)
		if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || r.stdout != "" {
			t.Errorf("%q: want one line on stderr and nothing on stdout, got %s", args, r)
		}
		coreOneLine(t, r.stderr, "--tag")
	}
	if ss := coreSessions(t, e, "--tag", "daily"); len(ss) != 1 {
		t.Fatalf("sessions --tag daily: %d sessions, want 1", len(ss))
	}
}

// TestReviewCLISessionsRowPerSession: the sessions table has one line per
// session, even for a path (or device, or tag) with a newline or a tab:
// the control characters are escaped as in warnings. The newline split
// the row in two, and a script reading the table line by line took the
// rest of the path for a session.
func TestReviewCLISessionsRowPerSession(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "two\nlines\tand a tab")
	coreWrite(t, filepath.Join(src, "f"), []byte("x"), 0o644)
	coreBackup(t, e, 0, "--device", "dev\nice", "--tag", "t\ng", src)
	out := e.mustRun("sessions").stdout
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a header and one row, got %d lines:\n%s", len(lines), out)
	}
	coreOneLine(t, out, `two\nlines\tand a tab`, `dev\nice`, `t\ng`)
	// JSON keeps the names as they are.
	ss := coreSessions(t, e)
	if len(ss) != 1 || ss[0].Paths[0] != src || ss[0].Device != "dev\nice" {
		t.Fatalf("sessions --json: %+v", ss)
	}
}

// TestReviewCLIHelpExamples: every command's --help, and cabinet's own,
// shows an example, as the README promises. cabinet --help showed only
// the exit codes.
func TestReviewCLIHelpExamples(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"--help"}, {"init", "--help"}, {"backup", "--help"}, {"sessions", "--help"}, {"restore", "--help"},
		{"check", "--help"}, {"mount", "--help"}, {"persona", "--help"}, {"persona", "list", "--help"},
		{"persona", "capture", "--help"}, {"persona", "apply", "--help"}, {"persona", "show", "--help"},
		{"key", "--help"}, {"key", "add", "--help"}, {"key", "list", "--help"}, {"key", "remove", "--help"},
		{"key", "passwd", "--help"}, {"version", "--help"},
	} {
		r := e.mustRun(args...)
		if !strings.Contains(r.stdout, "Example") || !strings.Contains(r.stdout, "  cabinet ") {
			t.Errorf("cabinet %s shows no example:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
}
