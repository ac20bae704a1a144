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
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/chunker"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/snapshot"
)

const reviewMaxSlice = 256 << 10 // fstest.NewRepo's largest slice

// reviewHoleFiles are files of zeros and data in many arrangements.
func reviewHoleFiles() map[string][]byte {
	rnd := rand.New(rand.NewSource(7))
	data := func(n int) []byte { b := make([]byte, n); rnd.Read(b); return b }
	zeros := func(n int) []byte { return make([]byte, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return map[string][]byte{
		"zeros-exact":   zeros(3 * reviewMaxSlice),
		"zeros-one":     zeros(reviewMaxSlice),
		"zeros-partial": zeros(3*reviewMaxSlice + 1000),
		"zeros-short":   zeros(reviewMaxSlice - 1),
		"data-zeros":    cat(data(1000), zeros(4*reviewMaxSlice)),
		"zeros-data":    cat(zeros(4*reviewMaxSlice), data(70<<10)),
		"interleaved":   cat(zeros(2*reviewMaxSlice), data(5000), zeros(3*reviewMaxSlice+7), data(300<<10), zeros(2*reviewMaxSlice), data(1)),
		"odd":           cat(data(513), zeros(5*reviewMaxSlice+511)),
		"data":          data(600 << 10),
		"empty":         nil,
	}
}

func reviewHoleFS(t *testing.T, files map[string][]byte) (*fs.FS, string, string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
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
	t.Cleanup(func() { f.Close() })
	return f, "laptop/files/2026-11-21 10.30.05" + src + "/", src
}

// refSeek is lseek(2)'s SEEK_DATA and SEEK_HOLE over a map of which
// bytes are holes, given as ranges.
func refSeek(holes [][2]int64, size, off int64, whence int) (int64, bool) {
	if off < 0 || off >= size {
		return 0, false
	}
	inHole := func(p int64) bool {
		for _, h := range holes {
			if p >= h[0] && p < h[1] {
				return true
			}
		}
		return false
	}
	for p := off; p < size; {
		if inHole(p) == (whence == fs.SeekHole) {
			return p, true
		}
		// jump to the next boundary
		next := size
		for _, h := range holes {
			for _, b := range h {
				if b > p && b < next {
					next = b
				}
			}
		}
		p = next
	}
	if whence == fs.SeekHole {
		return size, true
	}
	return 0, false
}

// For every file, SEEK_DATA and SEEK_HOLE at every slice boundary, one
// byte either side, the end, past it and negative agree with a reference
// built from the holes the handle reports; every byte reported as a hole
// reads as zero; what reads is the file; Holes and Blocks agree.
func TestReviewHolesSeekEverywhere(t *testing.T) {
	files := reviewHoleFiles()
	f, session, _ := reviewHoleFS(t, files)
	ctx := context.Background()
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			n := walk(t, f, session+name)
			a := n.Attr()
			size := int64(len(content))
			if a.Size != uint64(size) {
				t.Fatalf("size %d, want %d", a.Size, size)
			}
			if a.Holes > a.Size || a.Holes%reviewMaxSlice != 0 {
				t.Errorf("holes %d bytes of %d", a.Holes, a.Size)
			}
			if got, want := a.Blocks(), (a.Size-a.Holes+511)/512; got != want {
				t.Errorf("blocks %d, want %d", got, want)
			}
			h, err := n.(fs.File).Open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			s := h.(fs.Seeker)
			// The holes as the handle reports them, walking SEEK_HOLE then SEEK_DATA.
			var holes [][2]int64
			var holeBytes int64
			for off := int64(0); off < size; {
				hs, err := s.Seek(off, fs.SeekHole)
				if err != nil {
					t.Fatalf("SEEK_HOLE %d: %v", off, err)
				}
				if hs < off || hs > size {
					t.Fatalf("SEEK_HOLE %d: %d", off, hs)
				}
				if hs == size {
					break
				}
				he, err := s.Seek(hs, fs.SeekData)
				if errors.Is(err, fs.ErrNoData) {
					he = size
				} else if err != nil {
					t.Fatalf("SEEK_DATA %d: %v", hs, err)
				}
				if he <= hs {
					t.Fatalf("SEEK_DATA %d: %d, not past the hole", hs, he)
				}
				holes = append(holes, [2]int64{hs, he})
				holeBytes += he - hs
				off = he
			}
			if uint64(holeBytes) != a.Holes {
				t.Errorf("seek finds %d bytes of holes, Attr.Holes says %d", holeBytes, a.Holes)
			}
			for _, hr := range holes {
				if !bytes.Equal(content[hr[0]:hr[1]], make([]byte, hr[1]-hr[0])) {
					t.Errorf("hole %d-%d holds data", hr[0], hr[1])
				}
			}
			// Every boundary and its neighbours.
			offs := []int64{-1, -reviewMaxSlice, 0, 1, size - 1, size, size + 1, size + reviewMaxSlice, 1 << 62}
			for _, hr := range holes {
				for _, b := range hr {
					offs = append(offs, b-1, b, b+1)
				}
			}
			for k := int64(0); k <= size; k += reviewMaxSlice / 4 {
				offs = append(offs, k)
			}
			for _, off := range offs {
				for _, whence := range []int{fs.SeekData, fs.SeekHole} {
					got, err := s.Seek(off, whence)
					want, ok := refSeek(holes, size, off, whence)
					switch {
					case !ok && !errors.Is(err, fs.ErrNoData):
						t.Errorf("seek %d whence %d: %d, %v; want ErrNoData", off, whence, got, err)
					case ok && (err != nil || got != want):
						t.Errorf("seek %d whence %d: %d, %v; want %d", off, whence, got, err, want)
					}
				}
			}
			// The whole file reads as it is.
			if size > 0 {
				d, err := h.ReadAt(ctx, 0, int(size)+100)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(d.Bytes(), content) {
					t.Error("the file reads differently")
				}
				d.Release()
			}
		})
	}
	// A file all of full slices of zeros is all hole.
	for _, name := range []string{"zeros-exact", "zeros-one"} {
		a := walk(t, f, session+name).Attr()
		if a.Holes != a.Size || a.Blocks() != 0 {
			t.Errorf("%s: holes %d of %d, blocks %d; want all hole, 0 blocks", name, a.Holes, a.Size, a.Blocks())
		}
		h, err := walk(t, f, session+name).(fs.File).Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.(fs.Seeker).Seek(0, fs.SeekData); !errors.Is(err, fs.ErrNoData) {
			t.Errorf("%s: SEEK_DATA 0: %v, want ErrNoData", name, err)
		}
		if pos, err := h.(fs.Seeker).Seek(0, fs.SeekHole); err != nil || pos != 0 {
			t.Errorf("%s: SEEK_HOLE 0: %d, %v, want 0", name, pos, err)
		}
		h.Close()
	}
	// Shorter than a slice: data, no hole.
	if a := walk(t, f, session+"zeros-short").Attr(); a.Holes != 0 {
		t.Errorf("zeros-short: holes %d", a.Holes)
	}
}

// Attr.Holes is the same through Lookup, Readdir and ReaddirPart (a
// folder listed in parts), and only files have holes.
func TestReviewHolesListingInParts(t *testing.T) {
	files := reviewHoleFiles()
	f, session, _ := reviewHoleFS(t, files)
	ctx := context.Background()
	dir := walk(t, f, session)
	if a := dir.Attr(); a.Holes != 0 || a.Blocks() != 0 {
		t.Errorf("folder: holes %d, blocks %d", a.Holes, a.Blocks())
	}
	byLookup := map[string]uint64{}
	for name := range files {
		byLookup[name] = walk(t, f, session+name).Attr().Holes
	}
	entries, err := dir.(fs.Dir).Readdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if got := e.Node.Attr().Holes; got != byLookup[e.Name] {
			t.Errorf("Readdir %s: holes %d, Lookup says %d", e.Name, got, byLookup[e.Name])
		}
	}
	pd, ok := dir.(fs.PartDir)
	if !ok {
		t.Fatal("a session folder is not a PartDir")
	}
	seen := 0
	for start := 0; ; start += 3 {
		part, total, err := pd.ReaddirPart(ctx, start, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range part {
			seen++
			if got := e.Node.Attr().Holes; got != byLookup[e.Name] {
				t.Errorf("ReaddirPart %s: holes %d, Lookup says %d", e.Name, got, byLookup[e.Name])
			}
		}
		if start+3 >= total {
			break
		}
	}
	if seen != len(files) {
		t.Errorf("ReaddirPart gave %d entries, want %d", seen, len(files))
	}
	if byLookup["zeros-exact"] != 3*reviewMaxSlice || byLookup["data"] != 0 {
		t.Errorf("holes %v", byLookup)
	}
}

// MetaCounting, which the mount calls for every file it lists, and Meta
// decode without allocating, as Meta's comment says: a folder of a
// million files is listed without millions of allocations. (MetaCounting
// took the ID's address, which moved it to the heap, and both grew a
// slice list they then dropped: three allocations a file.)
func TestReviewMetaCountingAllocs(t *testing.T) {
	var ids [3][32]byte
	ids[1][0] = 1
	tree := &snapshot.Tree{}
	for i := range 50 {
		n := snapshot.Node{Name: sprintf("f%03d", i), Type: snapshot.TypeFile, Mode: 0o644}
		for j := range 3 {
			n.Content = append(n.Content, ids[j])
			n.Sizes = append(n.Sizes, reviewMaxSlice)
			n.Size += reviewMaxSlice
		}
		tree.Nodes = append(tree.Nodes, n)
	}
	l, err := snapshot.ParseListing(snapshot.EncodeTree(tree))
	if err != nil {
		t.Fatal(err)
	}
	if _, zeros := l.MetaCounting(0, ids[0], reviewMaxSlice); zeros != 2 {
		t.Errorf("MetaCounting counts %d slices, want 2", zeros)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i := range l.Len() {
			l.MetaCounting(i, ids[0], reviewMaxSlice)
		}
	})
	if allocs > 0 {
		t.Errorf("MetaCounting of %d files: %.0f allocations", l.Len(), allocs)
	}
	allocs = testing.AllocsPerRun(100, func() {
		for i := range l.Len() {
			if n := l.Meta(i); n.Content != nil || n.Sizes != nil {
				t.Fatal("Meta decoded the slice list")
			}
		}
	})
	if allocs > 0 {
		t.Errorf("Meta of %d files: %.0f allocations", l.Len(), allocs)
	}
}

// For some keys the gear hash of zeros meets a cut point (chunker
// zerosHaveCut): runs of zeros are cut into slices shorter than Max, all
// of one size, from every slice start. They are holes too: the mount
// counts them, finds them with SEEK_HOLE, and they read as zeros. Small
// slice sizes make such keys common; the test makes repositories until
// one has such a key.
func TestReviewHolesKeyCutsZeros(t *testing.T) {
	sizes := chunker.Sizes{Min: 64, Avg: 128, Max: 256}
	var dir string
	var cut int
	for i := 0; ; i++ {
		if i == 300 {
			t.Skip("no key among 300 cuts runs of zeros")
		}
		dir = t.TempDir()
		r, err := repo.Create(context.Background(), local.New(dir), []byte(fstest.Password), repo.CreateOptions{
			Key:     repo.KeyOptions{KDF: crypto.KDFParams{Time: 1, Memory: 1024, Threads: 1}},
			Chunker: sizes,
		}, repo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cut = r.Chunker().Cut(make([]byte, sizes.Max))
		r.Close()
		if cut < sizes.Max {
			break
		}
	}
	src := filepath.Join(t.TempDir(), "src")
	data := make([]byte, 100)
	rand.New(rand.NewSource(3)).Read(data)
	content := bytes.Join([][]byte{data, make([]byte, 64<<10), data}, nil)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "img"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	fstest.Backup(t, fstest.OpenRepo(t, dir), "laptop", snapshot.SourceFiles, time.Date(2026, 11, 21, 10, 30, 5, 0, time.UTC), src)
	f, err := fs.New(context.Background(), fstest.OpenRepo(t, dir), fs.Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := walk(t, f, "laptop/files/2026-11-21 10.30.05"+src+"/img")
	a := n.Attr()
	// All but the slices at the ends of the run of zeros are holes.
	if a.Holes < uint64(64<<10-4*sizes.Max) || a.Holes > 64<<10 || a.Holes%uint64(cut) != 0 {
		t.Errorf("key cutting zeros at %d: holes %d bytes of %d, want nearly the 64 KiB of zeros", cut, a.Holes, a.Size)
	}
	h, err := n.(fs.File).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	hs, err := h.(fs.Seeker).Seek(0, fs.SeekHole)
	if err != nil || hs >= int64(len(content)) {
		t.Fatalf("SEEK_HOLE 0: %d, %v; want a hole before the end", hs, err)
	}
	he, err := h.(fs.Seeker).Seek(hs, fs.SeekData)
	if err != nil || he <= hs {
		t.Fatalf("SEEK_DATA %d: %d, %v", hs, he, err)
	}
	if !bytes.Equal(content[hs:he], make([]byte, he-hs)) {
		t.Errorf("hole %d-%d holds data", hs, he)
	}
	d, err := h.ReadAt(context.Background(), 0, len(content))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if !bytes.Equal(d.Bytes(), content) {
		t.Error("the file reads differently")
	}
}
