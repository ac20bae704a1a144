//go:build linux

package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C in the middle of a restore of many small (bundled) files and of
// files at slice and range boundaries, sparse files and empty ones, then a
// restore with --overwrite if-changed: the result is complete and equal,
// and --verify reads every file it wrote back as the session's.
func TestRestoreReviewInterruptThenIfChanged(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for i := range 3000 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("small/d%02d/f%04d", i%30, i)), []byte(fmt.Sprintf("small file %d\n", i)), 0o640)
	}
	for i, size := range []int{128 << 10, 256 << 10, 512 << 10, 4 << 20, 16 << 20} {
		for _, d := range []int{-1, 0, 1} {
			coreWrite(t, filepath.Join(src, fmt.Sprintf("sizes/r%d%+d", size, d)), coreRandom(int64(i*3+d+10), size+d), 0o644)
		}
	}
	coreWrite(t, filepath.Join(src, "sizes/zeros"), make([]byte, 300<<10), 0o644)
	coreWrite(t, filepath.Join(src, "sizes/empty"), nil, 0o644)
	sparse := filepath.Join(src, "sizes/sparse")
	coreWrite(t, sparse, nil, 0o644)
	if err := os.Truncate(sparse, 40<<20); err != nil {
		t.Fatal(err)
	}
	fh, _ := os.OpenFile(sparse, os.O_WRONLY, 0)
	fh.WriteAt([]byte("middle"), 20<<20)
	fh.Close()
	e.mustRun("backup", src)

	target := t.TempDir()
	cmd := e.command("restore", "--target", target, "latest")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the restore has begun writing files.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	first := filepath.Join(coreRestored(target, src), "small")
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		default:
		}
		if _, serr := os.Stat(first); serr == nil {
			cmd.Process.Signal(syscall.SIGINT)
			err = <-done
			break
		}
		time.Sleep(time.Millisecond)
	}
	if code := cmd.ProcessState.ExitCode(); err != nil && code != 130 {
		t.Fatalf("interrupted restore: exit %d, want 130 (or 0 if it was done)\n%s", code, out.String())
	}
	t.Logf("first restore: exit %d", cmd.ProcessState.ExitCode())
	st := coreRestoreJSON(t, e, "--overwrite", "if-changed", "--verify", "--target", target, "latest")
	if st.VerifyFailed != 0 || st.Warnings != 0 {
		t.Fatalf("restore after the interrupted one: %+v", st)
	}
	root := coreRestored(target, src)
	coreDiff(t, src, root)
	coreCompareTrees(t, src, root)
}
