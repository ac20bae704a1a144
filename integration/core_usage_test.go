//go:build linux

package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestCoreUsageErrors: command-line mistakes exit 2 (or 1 for a path that
// does not exist) with a one-line message naming the mistake, and change
// nothing.
func TestCoreUsageErrors(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("x"), 0o644)
	e.mustRun("backup", src)
	missing := filepath.Join(e.dir, "no-such-folder")
	cases := []struct {
		args []string
		code int
		says []string
	}{
		{[]string{"backup"}, 2, []string{"PATH"}},
		{[]string{"backup", "--no-such-flag", src}, 2, []string{"no-such-flag"}},
		{[]string{"backup", "--quiet", missing}, 1, []string{missing}},
		{[]string{"restore"}, 2, []string{"SESSION"}},
		{[]string{"restore", "a", "b"}, 2, []string{"SESSION"}},
		{[]string{"restore", "--overwrite", "sometimes", "latest"}, 2, []string{"sometimes"}},
		{[]string{"backup", "--exclude", "*.tmp", "--exclude", "cache[", src}, 2, []string{"exclude", "cache["}},
		{[]string{"backup", "--priority", "[", src}, 2, []string{"priority", "["}},
		{[]string{"backup", "--tag", "", src}, 2, []string{"--tag", "non-empty"}},
		{[]string{"restore", "--include", "a/[b", "latest"}, 2, []string{"include", "a/[b"}},
		{[]string{"restore", "--target", filepath.Join(e.dir, "r"), "no-such-session"}, 1, []string{"no-such-session"}},
		{[]string{"check", "--read-data-subset", "150%"}, 2, []string{"read-data-subset"}},
		{[]string{"check", "--read-data-subset", "0%"}, 2, []string{"read-data-subset"}},
		{[]string{"check", "--read-data-subset", "lots"}, 2, []string{"read-data-subset"}},
		{[]string{"check", "--read-data-subset", "4/3"}, 2, []string{"read-data-subset", "n/t"}},
		{[]string{"check", "--read-data-subset", "0/3"}, 2, []string{"read-data-subset", "n/t"}},
		{[]string{"key", "remove"}, 2, []string{"key"}},
		{[]string{"key", "add"}, 2, []string{"new-password-file"}},
		{[]string{"init"}, 1, []string{e.repo}},
		// Commands that take no arguments refuse one: urfave/cli stops
		// reading flags at it, so --json here was taken for an argument.
		{[]string{"sessions", "latest", "--json"}, 2, []string{"sessions takes no arguments", "latest"}},
		{[]string{"check", "extra"}, 2, []string{"check takes no arguments"}},
		{[]string{"key", "list", "extra"}, 2, []string{"key list takes no arguments"}},
	}
	for _, c := range cases {
		r := e.expectCode(c.code, c.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 1 {
			t.Errorf("%v: want a one-line message, got:\n%s", c.args, r.stderr)
		}
		coreOneLine(t, r.stderr, c.says...)
	}
	if ss := coreSessions(t, e); len(ss) != 1 {
		t.Errorf("usage errors changed the sessions: %d", len(ss))
	}
	r := e.mustRun("check", "--read-data-subset", "50%")
	coreOneLine(t, r.stdout, "0 errors")
	// Groups 1/3 to 3/3 read every cabinet once between them.
	var all, read int
	for n := 1; n <= 3; n++ {
		var out struct {
			Result struct {
				Cabinets     int `json:"cabinets"`
				CabinetsRead int `json:"cabinets_read"`
				Errors       int `json:"errors"`
			} `json:"result"`
		}
		r := e.mustRun("check", "--json", "--read-data-subset", fmt.Sprintf("%d/3", n))
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Result.Errors != 0 {
			t.Fatalf("check --json: %v\n%s", err, r.stdout)
		}
		all, read = out.Result.Cabinets, read+out.Result.CabinetsRead
	}
	if all == 0 || read != all {
		t.Errorf("groups 1/3 to 3/3 read %d cabinets, the repository has %d", read, all)
	}
	e.mustCheck()
}
