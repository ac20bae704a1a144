//go:build linux

package integration

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReviewCheckJSONNamesEverySession: two sessions of an unchanged
// folder share its trees; a bit flipped in the data cabinet of its file
// is one finding whose object is the cabinet and whose files are that file
// in both sessions, each under the time name 'sessions' shows. stdout is
// one JSON document and nothing else, the exit code 13.
func TestReviewCheckJSONNamesEverySession(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "big.bin"), coreRandom(7, 1<<20), 0o644)
	before := coreRepoFiles(t, e, "")
	coreBackup(t, e, 0, src)
	cab := coreFirstWithPrefix(t, coreNewFiles(before, coreRepoFiles(t, e, "")), "data/")
	coreBackup(t, e, 0, src)
	coreFlipBit(t, filepath.Join(e.repo, cab), int(coreFileSize(t, filepath.Join(e.repo, cab))/3))

	r := e.expectCode(13, "check", "--json", "--read-data")
	var out struct {
		Result   struct{ Errors int } `json:"result"`
		Findings []struct {
			Error   bool     `json:"error"`
			Object  string   `json:"object"`
			Message string   `json:"message"`
			Files   []string `json:"files"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("check --json: %v\n%s", err, r)
	}
	var want []string
	for _, s := range coreSessions(t, e) {
		want = append(want, "testdevice "+s.TimeName+" "+filepath.Join(src, "big.bin"))
	}
	slices.Sort(want)
	found := false
	for _, f := range out.Findings {
		if f.Object != cab {
			continue
		}
		found = true
		got := slices.Clone(f.Files)
		slices.Sort(got)
		if !f.Error || !slices.Equal(got, want) || !strings.Contains(f.Message, "damaged") {
			t.Errorf("finding %+v, want files %q", f, want)
		}
	}
	if !found || out.Result.Errors != 1 {
		t.Errorf("want one error naming %s: %s", cab, r.stdout)
	}
	// The text form names the same two files.
	r = e.expectCode(13, "check", "--read-data")
	for _, w := range want {
		coreOneLine(t, r.stderr, "affects "+w)
	}
}
