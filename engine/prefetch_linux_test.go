package engine

import (
	"path/filepath"
	"testing"
	"time"
)

// TestPrefetchFile: a regular file, a missing one and a FIFO put in a
// file's place all return at once; a FIFO must not hang the queue.
func TestPrefetchFile(t *testing.T) {
	dir, regular, fifo := fileAndFifo(t)
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
