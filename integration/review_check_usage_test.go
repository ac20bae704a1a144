//go:build linux

package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestReviewCheckSubsetForms: --read-data-subset takes a percentage above 0
// and at most 100 (with or without %, fractions allowed) or a group n/t;
// anything else, NaN included, is wrong usage (exit 2) in one line, and so
// is --read-data together with a subset: one of them would be ignored.
func TestReviewCheckSubsetForms(t *testing.T) {
	e := newEnv(t)
	for _, bad := range [][]string{
		{"--read-data-subset", "NaN"},
		{"--read-data-subset", "nan%"},
		{"--read-data-subset", "-5%"},
		{"--read-data-subset", "abc"},
		{"--read-data-subset", "1/0"},
		{"--read-data", "--read-data-subset", "2/5"},
		{"--read-data", "--read-data-subset", "10%"},
	} {
		r := e.expectCode(2, append([]string{"check"}, bad...)...)
		if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
			t.Errorf("check %v: want a one-line message, got:\n%s", bad, r.stderr)
		}
		coreOneLine(t, r.stderr, "read-data")
	}
	for _, good := range []string{"5.5%", "100%", "0.001%", "42", "1/1"} {
		e.mustRun("check", "--read-data-subset", good)
	}
}

// TestReviewCheckSubsetEmptyRepository: a subset check of a repository
// with no cabinet yet (just initialised) panicked slicing an empty list.
func TestReviewCheckSubsetEmptyRepository(t *testing.T) {
	e := newEnv(t)
	for _, s := range []string{"10%", "100%", "3/7"} {
		r := e.mustRun("check", "--json", "--read-data-subset", s)
		var out struct {
			Result struct {
				Cabinets     int `json:"cabinets"`
				CabinetsRead int `json:"cabinets_read"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("check --json --read-data-subset %s: %v\n%s", s, err, r)
		}
		if out.Result.Cabinets != 0 || out.Result.CabinetsRead != 0 {
			t.Errorf("empty repository: %+v", out.Result)
		}
	}
}
