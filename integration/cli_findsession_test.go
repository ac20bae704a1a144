//go:build linux

package integration

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLISessionNotFoundSaysWhy: a SESSION the flags leave out is
// explained, not called missing: an ID of a persona session given to
// restore (files by default), an ID of another device than --device, a
// device without sessions, a data source without sessions. Each said "the
// repository has no sessions yet" or "no session". Also: a session
// without tags prints "tags": [] (null broke jq '.tags[]'), and restore
// names the session as sessions lists it, " (2)" included.
func TestCLISessionNotFoundSaysWhy(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("x"), 0o644)
	first, _ := coreBackup(t, e, 0, src)
	second, _ := coreBackup(t, e, 0, src)
	id := first.ID[:8]
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--source", "persona", id}, []string{id, "is a files session", "--source files"}},
		{[]string{"--device", "laptop", id}, []string{id, `device "testdevice"`, "--device testdevice"}},
		{[]string{"--device", "laptop", "latest"}, []string{`device "laptop" has no sessions`, "testdevice"}},
		{[]string{"--source", "persona", "latest"}, []string{"no persona sessions", "persona capture"}},
	} {
		r := e.expectCode(1, append([]string{"restore", "--target", t.TempDir()}, c.args...)...)
		coreOneLine(t, r.stderr, c.want...)
	}

	var listed []map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("sessions", "--json").stdout), &listed); err != nil {
		t.Fatal(err)
	}
	for _, s := range listed {
		if tags, ok := s["tags"].([]any); !ok || len(tags) != 0 {
			t.Errorf("tags of a session without any: %#v, want []", s["tags"])
		}
	}

	// Two sessions in one second: restore names the second as listed.
	base := time.Date(2026, 11, 21, 10, 30, 5, 0, time.Local)
	retimeSessions(t, e, map[string]time.Time{first.ID: base.Add(100 * time.Millisecond), second.ID: base.Add(200 * time.Millisecond)})
	r := e.mustRun("restore", "--target", t.TempDir(), "2026-11-21 10.30.05 (2)")
	if !strings.Contains(r.stdout, "(2026-11-21 10.30.05 (2))") {
		t.Errorf("restore of the second session of a second: %q", r.stdout)
	}
}
