package local_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend/backendtest"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
)

func TestConformance(t *testing.T) {
	be := local.New(t.TempDir())
	defer be.Close()
	backendtest.Run(t, be)
	tmp, err := be.TempFiles()
	if err != nil || len(tmp) != 0 {
		t.Fatalf("temporary files left: %v %v", tmp, err)
	}
}

// TestHandlesStayOpen: a handle from OpenReaderAt keeps reading after the
// backend has dropped it from its cache of 512 (it was closed under its
// readers before).
func TestHandlesStayOpen(t *testing.T) {
	ctx := context.Background()
	be := local.New(t.TempDir())
	defer be.Close()
	const n = 1200
	handles := make([]io.ReaderAt, n)
	for i := range n {
		name := fmt.Sprintf("data/%02x/%064x", i%256, i)
		if err := be.Put(ctx, name, []byte(name)); err != nil {
			t.Fatal(err)
		}
		h, err := be.OpenReaderAt(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		handles[i] = h
	}
	buf := make([]byte, 4)
	for i, h := range handles {
		if _, err := h.ReadAt(buf, 0); err != nil {
			t.Fatalf("handle %d of %d: %v", i, n, err)
		}
	}
}
