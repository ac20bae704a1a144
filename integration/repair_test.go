//go:build linux

package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repairResult is what repair index --json prints.
type repairResult struct {
	Cabinets        int  `json:"cabinets"`
	CabinetsIndexed int  `json:"cabinets_indexed"`
	Blobs           int  `json:"blobs"`
	BlobsLost       int  `json:"blobs_lost"`
	BlobsSalvaged   int  `json:"blobs_salvaged"`
	Unchanged       bool `json:"unchanged"`
	LeftOut         []struct {
		Cabinet string `json:"cabinet"`
		Reason  string `json:"reason"`
		Blobs   int    `json:"blobs_lost"`
	} `json:"left_out"`
	IndexFilesWritten int `json:"index_files_written"`
	IndexFilesRemoved int `json:"index_files_removed"`
}

func repairJSON(t testing.TB, e *env, code int, args ...string) repairResult {
	t.Helper()
	r := e.expectCode(code, append([]string{"repair", "index", "--json"}, args...)...)
	var res repairResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("repair index --json: %v\n%s", err, r)
	}
	return res
}

// checkFinding is one finding of check --json.
type checkFinding struct {
	Error   bool     `json:"error"`
	Object  string   `json:"object"`
	Message string   `json:"message"`
	Files   []string `json:"files"`
}

// checkJSON runs check --json with args and returns its exit code and findings.
func checkJSON(t testing.TB, e *env, args ...string) (int, []checkFinding) {
	t.Helper()
	r := e.run(append([]string{"check", "--json"}, args...)...)
	var out struct {
		Findings []checkFinding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("check --json: %v\n%s", err, r)
	}
	return r.code, out.Findings
}

// repairTree backs up a tree in two sessions: the first holds keep.bin
// and small files, the second adds hit.bin and more small files (bundled
// with it in its data cabinet). It returns the source folder and the data
// cabinet the second backup added, the largest.
func repairTree(t *testing.T, e *env) (src, cabinet string) {
	t.Helper()
	src = filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "keep.bin"), coreRandom(1, 2<<20), 0o644)
	for i := range 5 {
		coreWrite(t, filepath.Join(src, "small", fmt.Sprintf("a%d.txt", i)), []byte(strings.Repeat(fmt.Sprintf("keep %d\n", i), 300)), 0o644)
	}
	coreBackup(t, e, 0, src)
	before := coreRepoFiles(t, e, "")
	coreWrite(t, filepath.Join(src, "hit.bin"), coreRandom(2, 3<<20), 0o644)
	for i := range 20 {
		coreWrite(t, filepath.Join(src, "small2", fmt.Sprintf("b%d.txt", i)), []byte(strings.Repeat(fmt.Sprintf("hit %d\n", i), 200)), 0o644)
	}
	coreBackup(t, e, 0, src)
	return src, coreFirstWithPrefix(t, coreNewFiles(before, coreRepoFiles(t, e, "")), "data/")
}

// repairLostOnly says whether files (check's "device time path") are all
// files the second backup of repairTree added: hit.bin and small2/*, the
// data the damaged cabinet may hold.
func repairLostOnly(src string, files []string) bool {
	for _, f := range files {
		if !strings.HasSuffix(f, " "+filepath.Join(src, "hit.bin")) && !strings.Contains(f, " "+filepath.Join(src, "small2")+"/") {
			return false
		}
	}
	return len(files) > 0
}

// TestRepairIndexHeals: a cabinet of the second session deleted,
// truncated or with a flipped byte; check names hit.bin and advises the
// repair; repair index (--read-data for the flipped byte) leaves out what
// is lost and exits 3; the next backup stores hit.bin again; the latest
// session restores identical to the source, and check --read-data passes,
// the older session healed too (its slices are stored again under the
// same names). A second repair changes nothing.
func TestRepairIndexHeals(t *testing.T) {
	cases := []struct {
		name       string
		damage     func(t *testing.T, p string)
		structural bool // seen by check without --read-data
	}{
		{"deleted", func(t *testing.T, p string) { os.Remove(p) }, true},
		{"truncated", func(t *testing.T, p string) { coreTruncate(t, p, coreFileSize(t, p)/2) }, true},
		{"bit flipped", func(t *testing.T, p string) { coreFlipBit(t, p, int(coreFileSize(t, p)/3)) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			src, cab := repairTree(t, e)
			c.damage(t, filepath.Join(e.repo, cab))
			repairArgs, checkArgs := []string{}, []string{}
			advice := "run 'cabinet repair index', then 'cabinet backup'"
			if !c.structural {
				repairArgs, checkArgs = []string{"--read-data"}, []string{"--read-data"}
				advice = "run 'cabinet repair index --read-data', then 'cabinet backup'"
			}

			r := e.expectCode(13, append([]string{"check"}, checkArgs...)...)
			coreOneLine(t, r.stderr, "error", filepath.Base(cab), advice)
			coreOneLine(t, r.stderr, "affects", filepath.Join(src, "hit.bin"))
			if strings.Contains(r.stderr, filepath.Join(src, "keep.bin")) {
				t.Errorf("check names keep.bin, whose cabinet is intact:\n%s", r.stderr)
			}

			// The repair: what the old index listed in the cabinet is
			// lost, but for what still reads there (stored again).
			rr := e.expectCode(3, append([]string{"repair", "index"}, repairArgs...)...)
			coreOneLine(t, rr.stderr, "warning", cab, "lost")
			coreOneLine(t, rr.stdout, "rebuilt the index", "lost", "cabinet backup")
			if n := strings.Count(strings.TrimSpace(rr.stdout), "\n"); n != 0 {
				t.Errorf("the summary is not one paragraph:\n%s", rr.stdout)
			}
			again := repairJSON(t, e, 0, repairArgs...)
			if !again.Unchanged || again.BlobsLost != 0 {
				t.Errorf("second repair: %+v, want nothing to do", again)
			}

			// Until the backup, the sessions that used hit.bin lack it;
			// check names them, and no index file or cabinet.
			code, findings := checkJSON(t, e)
			if code != 13 {
				t.Errorf("check after the repair, before the backup: exit %d, want 13", code)
			}
			for _, f := range findings {
				if f.Error && (!strings.HasPrefix(f.Object, "blob ") || !repairLostOnly(src, f.Files)) {
					t.Errorf("check after the repair: %+v, want only blobs of the second session's new files missing", f)
				}
			}

			s, _ := coreBackup(t, e, 0, src)
			if s.Summary.BytesAdded == 0 || s.Summary.BytesRead < 3<<20 {
				t.Errorf("backup after the repair: %+v, want hit.bin read and stored again", s.Summary)
			}
			target := filepath.Join(e.dir, "restore")
			e.mustRun("restore", "--target", target, "latest")
			coreDiff(t, src, coreRestored(target, src))
			r = e.mustRun("check", "--read-data")
			for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				if l != "" && !strings.HasPrefix(l, "info: ") {
					t.Errorf("check --read-data after repair and backup printed %q", l)
				}
			}
			// The older session is whole again: hit.bin's slices have
			// their old names.
			ss := coreSessions(t, e)
			old := filepath.Join(e.dir, "restore-old")
			e.mustRun("restore", "--target", old, ss[1].ShortID)
			got, err := os.ReadFile(coreRestored(old, filepath.Join(src, "hit.bin")))
			if err != nil || !bytes.Equal(got, coreRandom(2, 3<<20)) {
				t.Errorf("hit.bin of the second session: %v", err)
			}
		})
	}
}

// TestRepairIndexHealthy: on a healthy repository repair index writes and
// removes nothing, check passes and the latest session restores as
// before; a second run is the same.
func TestRepairIndexHealthy(t *testing.T) {
	e := newEnv(t)
	src, _ := repairTree(t, e)
	before := coreRepoFiles(t, e, "")
	for _, args := range [][]string{{}, {"--read-data"}, {}} {
		res := repairJSON(t, e, 0, args...)
		if !res.Unchanged || res.BlobsLost != 0 || res.IndexFilesWritten != 0 || res.IndexFilesRemoved != 0 || res.Blobs == 0 {
			t.Errorf("repair index %v on a healthy repository: %+v", args, res)
		}
	}
	r := e.mustRun("repair", "index")
	coreOneLine(t, r.stdout, "nothing to repair")
	after := coreRepoFiles(t, e, "")
	if len(after) != len(before) {
		t.Errorf("the repository changed: %d files before, %d after", len(before), len(after))
	}
	for p, size := range before {
		if after[p] != size {
			t.Errorf("%s changed", p)
		}
	}
	e.mustCheck()
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))
	for _, args := range [][]string{{"repair", "--help"}, {"repair", "index", "--help"}} {
		if r := e.mustRun(args...); !strings.Contains(r.stdout, "Example") || !strings.Contains(r.stdout, "  cabinet repair index") {
			t.Errorf("cabinet %s shows no example:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
}

// TestRepairIndexKilled kills repair index with SIGKILL at random moments
// (most of them after the password is checked, when it reads, writes and
// removes) in copies of a repository of many index files and a deleted
// cabinet. After each kill, check finds nothing but that cabinet's loss;
// repair index run again completes, and a backup then heals everything.
// CABINET_CRASH_SEED repeats a run.
func TestRepairIndexKilled(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("CABINET_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (CABINET_CRASH_SEED=%d repeats this run)", seed, seed)
	rng := rand.New(rand.NewSource(seed))

	base := newEnv(t)
	src, cab := repairTree(t, base)
	// More sessions, each with an index file and cabinets of its own: the
	// repair has files to write and many to remove.
	for i := range 12 {
		coreWrite(t, filepath.Join(src, "more", fmt.Sprintf("m%02d.bin", i)), coreRandom(int64(100+i), 1<<20+i), 0o644)
		coreBackup(t, base, 0, "--quiet", src)
	}
	os.Remove(filepath.Join(base.repo, cab))

	// round returns an env on a fresh copy of the damaged repository.
	n := 0
	round := func() *env {
		n++
		e := *base
		e.t = t
		e.repo = filepath.Join(base.dir, fmt.Sprintf("repo-%d", n))
		e.cacheDir = filepath.Join(base.dir, fmt.Sprintf("cache-%d", n))
		if out, err := exec.Command("cp", "-a", base.repo, e.repo).CombinedOutput(); err != nil {
			t.Fatalf("copy the repository: %v %s", err, out)
		}
		return &e
	}
	// onlyKnownDamage fails on a check finding that is not the deleted
	// cabinet or a blob of what it held.
	onlyKnownDamage := func(e *env, when string) {
		t.Helper()
		_, findings := checkJSON(t, e)
		for _, f := range findings {
			if !f.Error {
				continue
			}
			if known := f.Object == cab || strings.HasPrefix(f.Object, "blob "); !known || !repairLostOnly(src, f.Files) {
				t.Errorf("%s: check found %+v", when, f)
			}
		}
	}

	// How long the command takes to open the repository, and to repair it.
	e := round()
	start := time.Now()
	e.mustRun("key", "list")
	open := time.Since(start)
	start = time.Now()
	e.expectCode(3, "repair", "index", "--read-data", "--quiet")
	full := time.Since(start)
	t.Logf("opening takes %v, a repair %v", open, full)

	killed := 0
	for i := range 8 {
		e := round()
		args := []string{"repair", "index", "--quiet"}
		if i%2 == 1 {
			args = append(args, "--read-data")
		}
		delay := open*9/10 + time.Duration(rng.Int63n(int64(full-open*9/10)+1))
		cmd := e.command(args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(delay):
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
			<-done
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else if code := cmd.ProcessState.ExitCode(); code != 3 {
			t.Fatalf("round %d: repair index exited %d before the kill at %v: %s", i, code, delay, stderr.String())
		}
		onlyKnownDamage(e, fmt.Sprintf("round %d, after a kill at %v", i, delay))
		if r := e.run(args...); r.code != 0 && r.code != 3 {
			t.Fatalf("round %d: repair index after a kill at %v: %s", i, delay, r)
		}
		onlyKnownDamage(e, fmt.Sprintf("round %d, after the repair", i))
		if res := repairJSON(t, e, 0); !res.Unchanged {
			t.Errorf("round %d: a third repair did something: %+v", i, res)
		}
		if i == 0 {
			coreBackup(t, e, 0, "--quiet", src)
			e.mustCheck()
			target := filepath.Join(e.dir, "restore")
			e.mustRun("restore", "--target", target, "latest")
			coreDiff(t, src, coreRestored(target, src))
		}
		os.RemoveAll(e.repo)
		os.RemoveAll(e.cacheDir)
	}
	t.Logf("%d of 8 repairs killed mid-way", killed)
}
