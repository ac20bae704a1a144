package engine

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/chunker"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// TestResliceMatchesChunker changes a sliced file in the ways files change
// and backs it up again: the slices resliceFile makes along the previous
// ones must be the chunker's own, and it must keep the unchanged ones
// without the chunker.
func TestResliceMatchesChunker(t *testing.T) {
	sizes := chunker.Sizes{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}
	random := func(seed uint64, n int) []byte { return randomBytes(rand.New(rand.NewPCG(seed, 7)), n) }
	base := random(1, 3<<20)
	splice := func(at, drop int, insert []byte) []byte {
		return slices.Concat(base[:at], insert, base[at+drop:])
	}
	scattered := slices.Clone(base)
	for at := 1000; at < len(scattered); at += 40 << 10 {
		scattered[at] ^= 0xff
	}
	// A disk image: runs of zeros (named without hashing, zeroSlices)
	// between data, one run rewritten. After the rewrite the zeros are cut
	// at other offsets than before until data follows: equal zero slices
	// cannot say where the bytes moved. Under keys whose zeros hold a cut,
	// that run is a thousand slices of a few KiB, so its zero slices are
	// left out of the share (unkept); what must be kept is all that
	// follows the run.
	image := slices.Concat(random(8, 1<<20), make([]byte, 2<<20), random(9, 1<<20), make([]byte, 1<<20+4321))
	imageChanged := slices.Clone(image)
	copy(imageChanged[2<<20:], random(10, 64<<10))
	bigBase := random(2, 20<<20) // read ahead in the chunker's parts
	bigChanged := slices.Concat(bigBase[:9<<20], random(3, 64<<10), bigBase[9<<20+64<<10:])
	for _, tc := range []struct {
		name          string
		before, after []byte
		// wantKept: at least this share of the previous slices kept
		wantKept float64
		// unkept: previous slices of zeros starting in this range of
		// before are not counted in the share
		unkept [2]int
	}{
		{"only touched", base, base, 0.99, [2]int{}},
		{"rewritten in the middle", base, splice(1<<20, 100<<10, random(4, 100<<10)), 0.9, [2]int{}},
		{"appended to", base, slices.Concat(base, random(5, 200<<10)), 0.99, [2]int{}},
		{"bytes inserted in the middle", base, splice(1<<20, 0, random(6, 777)), 0.9, [2]int{}},
		{"bytes deleted in the middle", base, splice(1<<20, 5000, nil), 0.9, [2]int{}},
		{"bytes inserted at the start", base, splice(0, 0, []byte("x")), 0.9, [2]int{}},
		{"truncated", base, base[:2<<20], 0.6, [2]int{}},
		{"shorter than a slice", base, base[:1000], 0, [2]int{}},
		{"all new", base, random(7, 3<<20), 0, [2]int{}},
		{"edited every 40 KiB", base, scattered, 0, [2]int{}},
		{"large, rewritten in the middle", bigBase, bigChanged, 0.95, [2]int{}},
		{"zero runs, one rewritten", image, imageChanged, 0.85, [2]int{2 << 20, 4 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, restarts, calls, previous := backupTwice(t, sizes, tc.before, tc.after)
			if len(tc.after) >= sizes.Min && calls != 1 {
				t.Fatalf("resliced %d times, want once", calls)
			}
			counted, at := 0, 0
			for _, n := range previous {
				if at < tc.unkept[0] || at >= tc.unkept[1] || !chunker.IsZero(tc.before[at:at+n]) {
					counted++
				}
				at += n
			}
			if share := float64(kept) / float64(counted); share < tc.wantKept {
				t.Fatalf("kept %d of %d previous slices (%d counted, %d restarts), want at least %.0f%%",
					kept, len(previous), counted, restarts, 100*tc.wantKept)
			}
			t.Logf("kept %d of %d previous slices (%d counted), %d restarts", kept, len(previous), counted, restarts)
		})
	}
}

// TestResliceRandomEdits backs up files changed by random edits (overwrites,
// insertions, deletions, several to a file) with slices small enough that
// every edit meets several: the slices must be the chunker's.
func TestResliceRandomEdits(t *testing.T) {
	sizes := chunker.Sizes{Min: 256, Avg: 1 << 10, Max: 4 << 10}
	rnd := rand.New(rand.NewPCG(11, 12))
	bytesOf := func(n int) []byte { return randomBytes(rnd, n) }
	for i := range 16 {
		before := bytesOf(256<<10 + rnd.IntN(64<<10))
		after := slices.Clone(before)
		for range 1 + rnd.IntN(6) {
			at := rnd.IntN(len(after))
			n := 1 + rnd.IntN(8<<10)
			switch rnd.IntN(3) {
			case 0: // overwrite
				copy(after[at:], bytesOf(n))
			case 1: // insert
				after = slices.Concat(after[:at], bytesOf(n), after[at:])
			default: // delete
				after = slices.Delete(after, at, min(at+n, len(after)))
			}
		}
		kept, restarts, _, _ := backupTwice(t, sizes, before, after)
		t.Logf("edit %d: kept %d slices, %d restarts", i, kept, restarts)
	}
}

// backupTwice backs up a file as before, then as after with a later
// modification time, and checks that the second session's slices of it
// are exactly the chunker's. It returns what resliceFile reported (slices
// kept, restarts, and how many files it resliced) and the sizes of the
// first session's slices of the file.
func backupTwice(t *testing.T, sizes chunker.Sizes, before, after []byte) (kept, restarts, calls int, previous []int) {
	t.Helper()
	ctx := context.Background()
	repoDir, cacheDir, src := filepath.Join(t.TempDir(), "repo"), t.TempDir(), t.TempDir()
	r, err := repo.Create(ctx, local.New(repoDir), []byte("pw"),
		repo.CreateOptions{Key: repo.KeyOptions{KDF: crypto.KDFParams{Time: 1, Memory: 1024, Threads: 1}}, Chunker: sizes},
		repo.Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	path := filepath.Join(src, "file")
	write := func(data []byte, mtime time.Time) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, mtime, mtime)
	}
	opts := BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: filepath.Join(cacheDir, "register"), Now: time.Now,
		resliced: func(p string, k, c int) { kept, restarts, calls = kept+k, restarts+c, calls+1 }}
	write(before, time.Unix(1e9, 0))
	if _, err := Backup(ctx, r, opts); err != nil {
		t.Fatal(err)
	}
	write(after, time.Unix(2e9, 0))
	s, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	n, err := snapshot.FindPath(ctx, r, s.Tree, filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	var wantIDs []blob.ID
	var wantSizes []uint32
	c := chunker.New(r.Chunker(), bytes.NewReader(after), nil)
	for {
		slice, err := c.Next(nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		wantIDs = append(wantIDs, r.Key().ID(slice))
		wantSizes = append(wantSizes, uint32(len(slice)))
	}
	if !slices.Equal(n.Sizes, wantSizes) || !slices.Equal(n.Content, wantIDs) || n.Size != uint64(len(after)) {
		t.Fatalf("%d slices of sizes %v, want the chunker's %d of %v", len(n.Sizes), n.Sizes, len(wantSizes), wantSizes)
	}
	if res, err := Check(ctx, r, CheckOptions{ReadData: true}); err != nil || res.Errors != 0 {
		t.Fatalf("check: %+v %v", res, err)
	}
	return kept, restarts, calls, slices.Collect(chunkSizes(r.Chunker(), before))
}

// chunkSizes yields the sizes of the chunker's slices of data.
func chunkSizes(p *chunker.Params, data []byte) func(func(int) bool) {
	return func(yield func(int) bool) {
		c := chunker.New(p, bytes.NewReader(data), nil)
		for {
			s, err := c.Peek()
			if err != nil || !yield(len(s)) {
				return
			}
		}
	}
}

// TestZeroSlicesID checks zero slices get the keyed hash's ID, whatever
// their size and however often they come, and other slices are hashed.
func TestZeroSlicesID(t *testing.T) {
	r := newRepo(t)
	key := r.Key()
	var z zeroSlices
	for _, data := range [][]byte{
		make([]byte, 4<<20), make([]byte, 4<<20), make([]byte, 1), make([]byte, 100_000), make([]byte, 100_000),
		append(make([]byte, 100_000), 1), append([]byte{1}, make([]byte, 99_999)...), []byte("text"), nil,
	} {
		if got, want := z.id(key, data), key.ID(data); got != want {
			t.Fatalf("%d bytes: ID %s, want %s", len(data), got, blob.ID(want))
		}
	}
	if len(z.ids) != 3 {
		t.Fatalf("%d sizes of zero slices cached, want 3", len(z.ids))
	}
}
