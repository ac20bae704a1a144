//go:build linux

package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCoreFileChangesDuringBackup: files that grow while a backup reads
// them end up in a valid session (check passes) holding a prefix of what
// was written, and the next backup picks up the rest.
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
	s, r := coreBackup(t, e, 0, "--quiet", src)
	close(stop)
	wg.Wait()
	t.Logf("backup while files grow: %+v\n%s", s.Summary, r.stderr)

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
