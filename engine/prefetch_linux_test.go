package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPrefetchFile: a regular file, a missing one and a FIFO put in a
// file's place all return at once; a FIFO must not hang the queue.
func TestPrefetchFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("cabinet"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{regular, filepath.Join(dir, "missing"), fifo} {
		done := make(chan struct{})
		go func() { prefetchFile(p, 7); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("prefetchFile(%s) blocks", filepath.Base(p))
		}
	}
}
