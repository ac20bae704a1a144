package fs_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/fs"
	"github.com/cabinetbackup/cabinet/fs/fstest"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// A file of zeros, data and zeros: its block count leaves out its slices
// of zeros, and Seek finds them as holes and the rest as data.
func TestHoles(t *testing.T) {
	const maxSlice = 256 << 10 // fstest.NewRepo's largest slice
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 100<<10)
	rand.New(rand.NewSource(1)).Read(data)
	content := append(append(make([]byte, 4*maxSlice), data...), make([]byte, 5*maxSlice)...)
	for name, b := range map[string][]byte{"sparse.bin": content, "data.bin": data, "empty.bin": nil} {
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	fstest.Backup(t, fstest.NewRepo(t, dir), "laptop", snapshot.SourceFiles, time.Date(2026, 11, 21, 10, 30, 5, 0, time.UTC), src)
	f, err := fs.New(context.Background(), fstest.OpenRepo(t, dir), fs.Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	session := "laptop/files/2026-11-21 10.30.05" + src + "/"

	n := walk(t, f, session+"sparse.bin")
	a := n.Attr()
	// At least the leading 1 MiB and all but two slices' worth of the
	// trailing 1.25 MiB are holes; the data is not.
	if min, max := uint64(4*maxSlice+3*maxSlice), uint64(len(content)-len(data)); a.Holes < min || a.Holes > max {
		t.Errorf("holes %d bytes, want %d to %d", a.Holes, min, max)
	}
	if got := a.Blocks() * 512; got != a.Size-a.Holes {
		t.Errorf("blocks cover %d bytes, want %d", got, a.Size-a.Holes)
	}
	for _, name := range []string{"data.bin", "empty.bin"} {
		if a := walk(t, f, session+name).Attr(); a.Holes != 0 || a.Blocks() != (a.Size+511)/512 {
			t.Errorf("%s: holes %d, blocks %d for %d bytes", name, a.Holes, a.Blocks(), a.Size)
		}
	}

	h, err := n.(fs.File).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	s := h.(fs.Seeker)
	seek := func(off int64, whence int) int64 {
		t.Helper()
		pos, err := s.Seek(off, whence)
		if err != nil {
			t.Fatalf("seek %d whence %d: %v", off, whence, err)
		}
		return pos
	}
	if got := seek(0, fs.SeekHole); got != 0 {
		t.Errorf("SEEK_HOLE from 0: %d, want 0", got)
	}
	dataAt := seek(0, fs.SeekData)
	if dataAt != 4*maxSlice {
		t.Errorf("SEEK_DATA from 0: %d, want %d", dataAt, 4*maxSlice)
	}
	if got := seek(dataAt+10, fs.SeekData); got != dataAt+10 {
		t.Errorf("SEEK_DATA inside data: %d, want %d", got, dataAt+10)
	}
	holeAt := seek(dataAt, fs.SeekHole)
	if holeAt < dataAt+int64(len(data)) || holeAt > dataAt+int64(len(data))+2*maxSlice {
		t.Errorf("SEEK_HOLE after the data: %d, want just past %d", holeAt, dataAt+int64(len(data)))
	}
	// Past the last hole only the file's last slice may be data: zeros
	// shorter than a slice of zeros, reported as data.
	if pos, err := s.Seek(holeAt, fs.SeekData); err == nil && pos < int64(len(content)-maxSlice) {
		t.Errorf("SEEK_DATA in the trailing hole: %d, want ErrNoData or the last slice", pos)
	} else if err != nil && !errors.Is(err, fs.ErrNoData) {
		t.Errorf("SEEK_DATA in the trailing hole: %v", err)
	}
	if _, err := s.Seek(int64(len(content)), fs.SeekHole); !errors.Is(err, fs.ErrNoData) {
		t.Errorf("SEEK_HOLE at the end: %v, want ErrNoData", err)
	}
	for _, whence := range []int{0, 1, 2, 5} {
		if _, err := s.Seek(0, whence); !errors.Is(err, fs.ErrNotSupported) {
			t.Errorf("Seek whence %d: %v, want ErrNotSupported", whence, err)
		}
	}
	// What lies between is what the file holds.
	d, err := h.ReadAt(context.Background(), dataAt, int(holeAt-dataAt))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if !bytes.Equal(d.Bytes(), content[dataAt:holeAt]) {
		t.Error("the data between SEEK_DATA and SEEK_HOLE differs from the file's")
	}
}
