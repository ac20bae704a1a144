// Package backendtest is the conformance suite every backend.Backend
// implementation runs (the local folder one now, object stores later).
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend"
)

// Run checks be against the backend.Backend contract. be must be empty.
func Run(t *testing.T, be backend.Backend) {
	ctx := context.Background()
	t.Run("PutGet", func(t *testing.T) {
		if err := be.Put(ctx, "data/ab/abc", []byte("0123456789")); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			off, n int64
			want   string
		}{{0, 0, "0123456789"}, {2, 3, "234"}, {7, 0, "789"}} {
			got, err := be.Get(ctx, "data/ab/abc", tc.off, tc.n)
			if err != nil || string(got) != tc.want {
				t.Fatalf("Get(%d, %d) = %q, %v; want %q", tc.off, tc.n, got, err, tc.want)
			}
		}
		fi, err := be.Stat(ctx, "data/ab/abc")
		if err != nil || fi.Size != 10 {
			t.Fatalf("Stat = %+v, %v", fi, err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		if _, err := be.Get(ctx, "index/missing", 0, 0); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("Get missing: %v", err)
		}
		if _, err := be.Stat(ctx, "index/missing"); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("Stat missing: %v", err)
		}
		if err := be.Delete(ctx, "index/missing"); err != nil {
			t.Fatalf("Delete missing: %v", err)
		}
	})
	t.Run("ListAndDirs", func(t *testing.T) {
		for _, n := range []string{"sessions/a/1", "sessions/a/2", "sessions/b/3"} {
			if err := be.Put(ctx, n, []byte(n)); err != nil {
				t.Fatal(err)
			}
		}
		dirs, err := be.ListDirs(ctx, "sessions")
		sort.Strings(dirs)
		if err != nil || len(dirs) != 2 || dirs[0] != "a" || dirs[1] != "b" {
			t.Fatalf("ListDirs = %v, %v", dirs, err)
		}
		var names []string
		if err := be.List(ctx, "sessions/a", func(fi backend.FileInfo) error {
			names = append(names, fi.Name)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Strings(names)
		if len(names) != 2 || names[0] != "1" {
			t.Fatalf("List = %v", names)
		}
		if err := be.List(ctx, "nothing-here", func(backend.FileInfo) error { return errors.New("called") }); err != nil {
			t.Fatalf("List of a missing folder: %v", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		be.Put(ctx, "keys/k", []byte("k"))
		if err := be.Delete(ctx, "keys/k"); err != nil {
			t.Fatal(err)
		}
		if _, err := be.Stat(ctx, "keys/k"); !errors.Is(err, backend.ErrNotFound) {
			t.Fatalf("deleted file still there: %v", err)
		}
	})
	t.Run("ConcurrentPuts", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				be.Put(ctx, "data/cc/same", bytes.Repeat([]byte{byte(i)}, 1<<16))
			}()
		}
		wg.Wait()
		got, err := be.Get(ctx, "data/cc/same", 0, 0)
		if err != nil || len(got) != 1<<16 || !bytes.Equal(got, bytes.Repeat(got[:1], 1<<16)) {
			t.Fatal("concurrent puts of one name left a mixed file")
		}
	})
	if tb, ok := be.(backend.TempFileBackend); ok {
		t.Run("TempFile", func(t *testing.T) {
			tf, err := tb.TempFile(ctx, "data")
			if err != nil {
				t.Fatal(err)
			}
			tf.Write([]byte("streamed"))
			if _, err := be.Stat(ctx, "data/dd/streamed"); err == nil {
				t.Fatal("visible before commit")
			}
			if err := tf.Commit(ctx, "data/dd/streamed"); err != nil {
				t.Fatal(err)
			}
			if got, _ := be.Get(ctx, "data/dd/streamed", 0, 0); string(got) != "streamed" {
				t.Fatalf("got %q", got)
			}
			tf2, _ := tb.TempFile(ctx, "data")
			tf2.Write([]byte("x"))
			if err := tf2.Abort(); err != nil {
				t.Fatal(err)
			}
		})
		// Sizes around the block and buffer sizes a backend may write in
		// (local: 4 KiB blocks, 1 MiB stages past the page cache), written
		// in uneven pieces, one larger than a stage.
		t.Run("TempFileSizes", func(t *testing.T) {
			for _, size := range []int{0, 1, 4096, 4097, 1 << 20, 3<<20 + 4096 + 17} {
				data := make([]byte, size)
				for i := range data {
					data[i] = byte(i*7 + i>>12)
				}
				tf, err := tb.TempFile(ctx, "data")
				if err != nil {
					t.Fatal(err)
				}
				for rest, step := data, 1; len(rest) > 0; step = step*5 + 3 {
					n := min(step, len(rest))
					if _, err := tf.Write(rest[:n]); err != nil {
						t.Fatal(err)
					}
					rest = rest[n:]
				}
				name := fmt.Sprintf("data/ee/size-%d", size)
				if err := tf.Commit(ctx, name); err != nil {
					t.Fatal(err)
				}
				if got, err := be.Get(ctx, name, 0, 0); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%d bytes streamed, %d read back (%v)", size, len(got), err)
				}
			}
		})
	}
}
