package engine

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPrefetchFile: a regular file, a missing one and a FIFO put in a
// file's place all return at once (a FIFO must not hang the queue); only
// the regular file comes back open, for its reader.
func TestPrefetchFile(t *testing.T) {
	dir, regular, fifo := fileAndFifo(t)
	want, err := os.ReadFile(regular)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{regular, filepath.Join(dir, "missing"), fifo} {
		done := make(chan *os.File)
		go func() { done <- prefetchFile(p, int64(len(want))) }()
		select {
		case fh := <-done:
			if (fh != nil) != (p == regular) {
				t.Fatalf("prefetchFile(%s) opened: %v", filepath.Base(p), fh != nil)
			}
			if fh != nil {
				got, err := io.ReadAll(fh)
				fh.Close()
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("read from the prefetched file: %q, %v", got, err)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("prefetchFile(%s) blocks", filepath.Base(p))
		}
	}
}
