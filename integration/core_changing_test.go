//go:build linux

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCoreFileChangesDuringBackup: files that grow while a backup reads
// them end up in a valid session (check passes) holding a prefix of what
// was written, each named in a warning (exit code 3, completed with
// warnings), and the next backup picks up the rest.
func TestCoreFileChangesDuringBackup(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for i := range 8 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("big-%d.bin", i)), coreRandom(int64(i), 8<<20), 0o644)
	}
	small := filepath.Join(src, "growing-small.log")
	large := filepath.Join(src, "growing-large.log")
	coreWrite(t, small, []byte("start\n"), 0o644)
	coreWrite(t, large, coreRandom(50, 2<<20), 0o644)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	final := map[string]*bytes.Buffer{}
	for _, p := range []string{small, large} {
		data, _ := os.ReadFile(p)
		buf := bytes.NewBuffer(data)
		final[p] = buf
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				chunk := coreRandom(int64(1000+i), 8<<10)
				f.Write(chunk)
				buf.Write(chunk)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	r := e.run("backup", "--json", "--quiet", src)
	close(stop)
	wg.Wait()
	var s coreSession
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("backup --json output: %v\n%s", err, r)
	}
	t.Logf("backup while files grow: exit %d, %+v\n%s", r.code, s.Summary, r.stderr)
	// Each file read while it grew is a warning; whether the small one
	// grew inside its read is up to the scheduler.
	warned := strings.Count(r.stderr, ": changed while it was read")
	want := strings.Count(r.stderr, large+": changed while it was read") + strings.Count(r.stderr, small+": changed while it was read")
	if r.code != 3 || warned == 0 || warned != want || s.Summary.Warnings != int64(warned) || s.Status != "completed with warnings" {
		t.Errorf("exit %d, %d warnings (%d naming the growing files), summary %d, status %q; want exit 3 and a warning for each growing file read while it grew",
			r.code, warned, want, s.Summary.Warnings, s.Status)
	}

	e.mustCheck()
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	for p, buf := range final {
		got, err := os.ReadFile(coreRestored(target, p))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(buf.Bytes(), got) || len(got) == 0 {
			t.Errorf("%s: restored %d bytes that are not a prefix of the %d written", filepath.Base(p), len(got), buf.Len())
		}
	}
	// The next backup reads the grown files again.
	s2, _ := coreBackup(t, e, 0, src)
	if s2.Summary.FilesChanged+s2.Summary.FilesNew < 2 {
		t.Errorf("next backup did not read the grown files again: %+v", s2.Summary)
	}
	target2 := filepath.Join(e.dir, "restore2")
	e.mustRun("restore", "--target", target2, "latest")
	coreDiff(t, src, coreRestored(target2, src))
}
