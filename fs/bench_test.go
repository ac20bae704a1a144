package fs_test

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/fs"
	"github.com/cabinetbackup/cabinet/fs/fstest"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// benchFile backs up a file of size random bytes and returns its node
// in a fresh FS.
func benchFile(b *testing.B, size int, o fs.Options) (fs.File, *fs.FS) {
	b.Helper()
	src := filepath.Join(b.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(data)
	if err := os.WriteFile(filepath.Join(src, "f"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	fstest.Backup(b, fstest.NewRepo(b, dir), "d", snapshot.SourceFiles, time.Unix(1e9, 0), src)
	o.Location = time.UTC
	f, err := fs.New(context.Background(), fstest.OpenRepo(b, dir), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	var n fs.Node = f.Root()
	for _, c := range append([]string{"d", "files", "2001-09-09 01.46.40"}, splitPath(src)...) {
		if n, err = n.(fs.Dir).Lookup(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	n, err = n.(fs.Dir).Lookup(context.Background(), "f")
	if err != nil {
		b.Fatal(err)
	}
	return n.(fs.File), f
}

func splitPath(p string) []string {
	var out []string
	for p != "/" && p != "." {
		out = append([]string{filepath.Base(p)}, out...)
		p = filepath.Dir(p)
	}
	return out
}

// BenchmarkSequentialRead reads a 32 MiB file in 128 KiB requests, as cat
// through the kernel does, cold (a fresh cache each round).
func BenchmarkSequentialRead(b *testing.B) {
	const size = 32 << 20
	file, _ := benchFile(b, size, fs.Options{})
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		file, _ = benchFile(b, size, fs.Options{})
		b.StartTimer()
		h, _ := file.Open(context.Background())
		for off := int64(0); off < size; {
			d, err := h.ReadAt(context.Background(), off, 128<<10)
			if err != nil {
				b.Fatal(err)
			}
			off += int64(d.Len())
			d.Release()
		}
	}
}

// BenchmarkRandomRead reads 4 KiB at random offsets of a cached file.
func BenchmarkRandomRead(b *testing.B) {
	const size = 8 << 20
	file, _ := benchFile(b, size, fs.Options{})
	h, _ := file.Open(context.Background())
	rnd := rand.New(rand.NewSource(1))
	b.ReportAllocs()
	b.SetBytes(4096)
	for b.Loop() {
		d, err := h.ReadAt(context.Background(), rnd.Int63n(size-4096), 4096)
		if err != nil {
			b.Fatal(err)
		}
		d.Release()
	}
}
