//go:build linux

package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// retimeSessions stores a copy of each session whose ID is a key of
// times, at that time; the originals are deleted.
func retimeSessions(t *testing.T, e *env, times map[string]time.Time) {
	t.Helper()
	ctx := context.Background()
	r := e.openRepo(t)
	ss, err := snapshot.ListSessions(ctx, r, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		at, ok := times[s.ID()]
		if !ok {
			continue
		}
		old := s.Ref
		c := *s
		c.Time = at
		if err := snapshot.SaveSession(ctx, r, &c); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteSession(ctx, old); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCLITimeNamesPerDevice: two devices back up in the same second. The
// time names 'sessions' prints (per device and data source, as the mount
// shows them) lead restore to the session listed. restore named them over
// every device: "... (2)" restored the other device's session, and
// "... (3)", listed nowhere, resolved.
func TestCLITimeNamesPerDevice(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	f := filepath.Join(src, "who.txt")
	ids := map[string]string{}
	for _, b := range []struct{ device, content string }{{"alpha", "alpha 1"}, {"alpha", "alpha 2"}, {"beta", "beta 1"}} {
		coreWrite(t, f, []byte(b.content), 0o644)
		s, _ := coreBackup(t, e, 0, "--device", b.device, src)
		ids[b.content] = s.ID
	}
	base := time.Date(2026, 11, 21, 10, 30, 5, 0, time.Local)
	const x = "2026-11-21 10.30.05"
	retimeSessions(t, e, map[string]time.Time{
		ids["alpha 1"]: base.Add(100 * time.Millisecond),
		ids["beta 1"]:  base.Add(200 * time.Millisecond),
		ids["alpha 2"]: base.Add(300 * time.Millisecond),
	})

	listed := map[string]string{} // device + time name -> content restored
	for _, s := range coreSessions(t, e) {
		listed[s.Device+"|"+s.TimeName] = s.ID
	}
	if len(listed) != 3 || listed["alpha|"+x] == "" || listed["alpha|"+x+" (2)"] == "" || listed["beta|"+x] == "" {
		t.Fatalf("sessions lists %v", listed)
	}
	restored := func(args ...string) string {
		t.Helper()
		target := t.TempDir()
		e.mustRun(append([]string{"restore", "--target", target}, args...)...)
		data, err := os.ReadFile(coreRestored(target, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	// The name only alpha lists, without --device: alpha's second session.
	if got := restored(x + " (2)"); got != "alpha 2" {
		t.Fatalf("restore %q restored %q, want alpha 2", x+" (2)", got)
	}
	if got := restored("--device", "alpha", x+" (2)"); got != "alpha 2" {
		t.Fatalf("restore --device alpha %q restored %q", x+" (2)", got)
	}
	if got := restored("--device", "beta", x); got != "beta 1" {
		t.Fatalf("restore --device beta %q restored %q", x, got)
	}
	if got := restored("--device", "alpha", x); got != "alpha 1" {
		t.Fatalf("restore --device alpha %q restored %q", x, got)
	}
	// A name no device lists.
	r := e.expectCode(1, "restore", "--target", t.TempDir(), x+" (3)")
	coreOneLine(t, r.stderr, "no session")
	// A name both devices list: one line asking for --device, usage exit.
	r = e.expectCode(2, "restore", "--target", t.TempDir(), x)
	coreOneLine(t, r.stderr, "--device", "alpha", "beta")
}

// TestCLIBackupTimeNameSameSecond: a backup that begins in the same second
// as an earlier session of its device prints the time name 'sessions'
// lists for it, "(2)" included. It printed its time alone, the name of the
// other session.
func TestCLIBackupTimeNameSameSecond(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("0"), 0o644)
	coreBackup(t, e, 0, src)
	// sameSecond moves the newest session to the start of the next second
	// and runs backup args in that second; false if the backup began later.
	sameSecond := func(args ...string) (base string, r result, ok bool) {
		ss := coreSessions(t, e)
		next := time.Now().Truncate(time.Second).Add(time.Second)
		retimeSessions(t, e, map[string]time.Time{ss[len(ss)-1].ID: next})
		time.Sleep(time.Until(next) + 20*time.Millisecond)
		coreWrite(t, filepath.Join(src, "f"), []byte(next.String()), 0o644)
		r = e.mustRun(append([]string{"backup"}, append(args, src)...)...)
		return next.Format(snapshot.TimeLayout), r, time.Now().Before(next.Add(time.Second))
	}
	lastListed := func() coreSession {
		ss := coreSessions(t, e)
		return ss[len(ss)-1]
	}
	for try := 0; ; try++ {
		if try == 5 {
			t.Skip("no backup began within a second of the previous one")
		}
		base, r, ok := sameSecond("--json")
		if !ok {
			continue
		}
		var s coreSession
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatalf("backup --json: %v\n%s", err, r)
		}
		if s.TimeName != base+" (2)" {
			t.Fatalf("backup --json time_name %q, want %q", s.TimeName, base+" (2)")
		}
		if l := lastListed(); l.ID != s.ID || l.TimeName != s.TimeName {
			t.Fatalf("sessions names session %s %q, backup named %s %q", l.ID, l.TimeName, s.ID, s.TimeName)
		}
		break
	}
	for try := 0; ; try++ {
		if try == 5 {
			t.Skip("no backup began within a second of the previous one")
		}
		base, r, ok := sameSecond()
		if !ok {
			continue
		}
		if want := "saved (" + base + " (2))"; !strings.Contains(r.stdout, want) {
			t.Fatalf("backup printed %q, want it to contain %q", r.stdout, want)
		}
		if l := lastListed(); !strings.Contains(r.stdout, l.ShortID) || l.TimeName != base+" (2)" {
			t.Fatalf("sessions names the last session %s %q; backup printed %s", l.ShortID, l.TimeName, r.stdout)
		}
		return
	}
}
