//go:build linux

package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// retimeSessions stores a copy of each session whose ID is a key of
// times, at that time; the originals are deleted.
func retimeSessions(t *testing.T, e *env, times map[string]time.Time) {
	t.Helper()
	ctx := context.Background()
	pw, err := os.ReadFile(e.pwFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, local.New(e.repo), []byte(strings.TrimSpace(string(pw))), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
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
