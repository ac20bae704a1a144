package snapshot

import (
	"strings"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
)

// TestReviewFindAmbiguousPrefix: an ID prefix of several sessions is
// refused with a one-line message naming them, so the user sees which
// digits to add.
func TestReviewFindAmbiguousPrefix(t *testing.T) {
	base := time.Date(2026, 11, 21, 10, 30, 5, 0, time.UTC)
	ss := []*Session{
		{Device: "d", Source: SourceFiles, Time: base, Ref: repo.SessionRef{Name: "ab12cdef01"}},
		{Device: "d", Source: SourceFiles, Time: base.Add(time.Second), Ref: repo.SessionRef{Name: "ab34cdef02"}},
	}
	_, err := Find(ss, "ab", time.UTC)
	if err == nil {
		t.Fatal("an ambiguous prefix picked a session")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "ab12cdef") || !strings.Contains(msg, "ab34cdef") {
		t.Fatalf("message %q: want one line naming both sessions", msg)
	}
	// Capitals, as some terminals and notes write hex, name the same session.
	if s, err := Find(ss, "AB34", time.UTC); err != nil || s.Ref.Name != "ab34cdef02" {
		t.Fatalf("Find(AB34) = %v, %v; want ab34cdef02", s, err)
	}
}
