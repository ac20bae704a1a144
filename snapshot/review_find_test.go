package snapshot

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // a zone with DST wherever the test runs

	"github.com/cabinetbackup/cabinet/repo"
)

// TestReviewFindLatestOfSeveralDevices: 'latest' names a session of each
// device and data source (the mount shows MOUNT/<device>/files/latest),
// as a time name of several devices does. Find gave the newest session of
// any device: 'cabinet restore latest' on one device, without --target,
// restored another device's files over this one's.
func TestReviewFindLatestOfSeveralDevices(t *testing.T) {
	base := time.Date(2026, 11, 21, 10, 30, 5, 0, time.UTC)
	ss := []*Session{
		{Device: "alpha", Source: SourceFiles, Time: base, Ref: repo.SessionRef{Name: "a1"}},
		{Device: "alpha", Source: SourceFiles, Time: base.Add(time.Minute), Ref: repo.SessionRef{Name: "a2"}},
		{Device: "beta", Source: SourceFiles, Time: base.Add(time.Hour), Ref: repo.SessionRef{Name: "b1"}},
	}
	_, err := Find(ss, "latest", time.UTC)
	var ae *AmbiguousError
	if !errors.As(err, &ae) || !ae.Devices() || len(ae.Sessions) != 2 {
		t.Fatalf("Find(latest) over two devices = %v, want an AmbiguousError naming a session of each", err)
	}
	if ae.Sessions[0].Ref.Name != "a2" || ae.Sessions[1].Ref.Name != "b1" {
		t.Fatalf("ambiguous latest names %s and %s, want a2 and b1", ae.Sessions[0].Ref.Name, ae.Sessions[1].Ref.Name)
	}
	if !strings.Contains(ae.Error(), `"latest"`) || !strings.Contains(ae.Where(), `"alpha"`) || !strings.Contains(ae.Where(), `"beta"`) {
		t.Fatalf("message %q (%s) does not name latest and both devices", ae.Error(), ae.Where())
	}
	// Among one device's sessions (restore --device), latest is its newest.
	if s, err := Find(ss[:2], "latest", time.UTC); err != nil || s.Ref.Name != "a2" {
		t.Fatalf("Find(alpha, latest) = %v, %v; want a2", s, err)
	}
	// One device, two sources (restore --source ""): also ambiguous.
	two := []*Session{ss[0], {Device: "alpha", Source: SourcePersona, Time: base.Add(time.Second), Ref: repo.SessionRef{Name: "p1"}}}
	if _, err := Find(two, "latest", time.UTC); !errors.As(err, &ae) || ae.Devices() {
		t.Fatalf("Find(latest) over two sources of one device = %v, want an AmbiguousError of one device", err)
	}
	// An ID prefix is one session whatever its device.
	if s, err := Find(ss, "b", time.UTC); err != nil || s.Ref.Name != "b1" {
		t.Fatalf("Find(b) = %v, %v; want b1", s, err)
	}
}

// TestReviewFindDSTFallBack: when clocks go back, one device's sessions an
// hour apart have the same local time: the later one is "(2)", and each
// name leads to its session.
func TestReviewFindDSTFallBack(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-11-01 01:30:05 happens twice in New York (EDT, then EST).
	first := time.Date(2026, 11, 1, 5, 30, 5, 0, time.UTC)
	second := first.Add(time.Hour)
	ss := []*Session{
		{Device: "d", Source: SourceFiles, Time: first, Ref: repo.SessionRef{Name: "e1"}},
		{Device: "d", Source: SourceFiles, Time: second, Ref: repo.SessionRef{Name: "e2"}},
	}
	const x = "2026-11-01 01.30.05"
	names := GroupTimeNames(ss, ny)
	if names[0] != x || names[1] != x+" (2)" {
		t.Fatalf("names %q, want %q and %q", names, x, x+" (2)")
	}
	for spec, want := range map[string]string{x: "e1", x + " (2)": "e2", "latest": "e2"} {
		if s, err := Find(ss, spec, ny); err != nil || s.Ref.Name != want {
			t.Fatalf("Find(%q) = %v, %v; want %s", spec, s, err, want)
		}
	}
	// In UTC the same sessions are an hour apart, with no suffix.
	if s, err := Find(ss, "2026-11-01 06.30.05", time.UTC); err != nil || s.Ref.Name != "e2" {
		t.Fatalf("Find(UTC name) = %v, %v; want e2", s, err)
	}
}
