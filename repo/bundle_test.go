package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/index"
)

// smallBlobs returns n distinct compressible blobs of about size bytes.
func smallBlobs(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		line := fmt.Sprintf("static int file_%d_line(void) { return %d; }\n", i, i*7)
		out[i] = bytes.Repeat([]byte(line), (size+i)/len(line)+1)[:size+i]
	}
	return out
}

// TestBundles: small data blobs are stored in bundles of about BundleSize
// (several blobs share one sealed range), read back one by one, from the
// bundle memo and without it (a new process), and pass a reading check;
// large blobs and trees are sealed alone.
func TestBundles(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	blobs := smallBlobs(200, 9000) // ~1.8 MB: several bundles
	large := bytes.Repeat([]byte("large "), BundleBlobMax/6+1)
	all := append(append([][]byte{}, blobs...), large)
	ids := saveBlobs(t, r, all...)
	ranges := map[[2]uint32]int{}
	for i, id := range ids {
		loc, ok := r.Index().Lookup(id)
		if !ok {
			t.Fatalf("blob %d not indexed", i)
		}
		if want := i < len(blobs); loc.Bundled != want {
			t.Fatalf("blob %d of %d bytes: bundled %v", i, len(all[i]), loc.Bundled)
		}
		if loc.Bundled {
			ranges[[2]uint32{loc.Offset, loc.Length}]++
		}
	}
	if n := len(ranges); n < 5 || n > 9 {
		t.Fatalf("%d bundles for 1.8 MB of small blobs, want about 7", n)
	}
	o := reopenIndexed(t, dir)
	for _, repo := range []*Repository{r, o} {
		// Twice: the second round reads from the bundle memo or decodes again.
		for round := 0; round < 2; round++ {
			for i, id := range ids {
				got, err := repo.LoadBlob(ctx, id, nil)
				if err != nil || !bytes.Equal(got, all[i]) {
					t.Fatalf("round %d, blob %d: %d bytes, %v", round, i, len(got), err)
				}
			}
		}
	}
	for _, p := range o.Index().Packs() {
		if damaged, err := o.ReadCabinet(ctx, p); err != nil || len(damaged) > 0 {
			t.Fatalf("ReadCabinet %s: %v %v", p.Short(), damaged, err)
		}
	}
}

// TestBundleDamage: a flipped byte in a bundle damages its blobs, named
// by LoadBlob and ReadCabinet, and no blob of another bundle.
func TestBundleDamage(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	blobs := smallBlobs(80, 9000)
	ids := saveBlobs(t, r, blobs...)
	hit, _ := r.Index().Lookup(ids[0])
	p := filepath.Join(dir, filepath.FromSlash(PackName(hit.Pack)))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[hit.Offset+hit.Length/2] ^= 0x10
	os.Chmod(p, 0o600)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	o := reopenIndexed(t, dir)
	want := map[blob.ID]bool{}
	for i, id := range ids {
		loc, _ := o.Index().Lookup(id)
		_, err := o.LoadBlob(ctx, id, nil)
		if loc.Offset == hit.Offset {
			want[id] = true
			if !errors.Is(err, ErrDamaged) || !bytes.Contains([]byte(err.Error()), []byte(hit.Pack.String())) {
				t.Fatalf("blob %d in the damaged bundle: %v", i, err)
			}
		} else if err != nil {
			t.Fatalf("blob %d in another bundle: %v", i, err)
		}
	}
	if len(want) < 2 || len(want) == len(ids) {
		t.Fatalf("%d of %d blobs in the damaged bundle", len(want), len(ids))
	}
	damaged, err := o.ReadCabinet(ctx, hit.Pack)
	if err == nil || len(damaged) != len(want) {
		t.Fatalf("ReadCabinet: %d damaged (%v), want %d", len(damaged), err, len(want))
	}
	for _, id := range damaged {
		if !want[id] {
			t.Fatalf("ReadCabinet named %s, not in the damaged bundle", id.Short())
		}
	}
}

// TestBundleBindsIDs: a bundle opens only for the blobs its member table
// lists, and with their lengths: an index entry that points a blob at
// another bundle, or gives it another length, reads as damage.
func TestBundleBindsIDs(t *testing.T) {
	r, dir := newTestRepo(t)
	blobs := smallBlobs(60, 9000)
	ids := saveBlobs(t, r, blobs...)
	first, _ := r.Index().Lookup(ids[0])
	var other blob.ID
	for _, id := range ids {
		if loc, _ := r.Index().Lookup(id); loc.Offset != first.Offset {
			other = id
			break
		}
	}
	if other == (blob.ID{}) {
		t.Fatal("all blobs in one bundle")
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(PackName(first.Pack))))
	if err != nil {
		t.Fatal(err)
	}
	sealed := func() []byte { return bytes.Clone(data[first.Offset : first.Offset+first.Length]) }
	if got, err := r.VerifyBlob(ids[0], first, sealed(), nil); err != nil || !bytes.Equal(got, blobs[0]) {
		t.Fatalf("VerifyBlob of a member: %v", err)
	}
	if _, err := r.DecodeBlob(other, first, sealed(), nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("blob of another bundle read from this one: %v", err)
	}
	wrongLength := first
	wrongLength.RawLength++
	if _, err := r.DecodeBlob(ids[0], wrongLength, sealed(), nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("member read with another length: %v", err)
	}
	asBlob := first
	asBlob.Bundled = false
	if _, err := r.DecodeBlob(ids[0], asBlob, sealed(), nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("bundle opened as a lone blob: %v", err)
	}
}

// TestFormat4WritesNoBundles: a repository of format 4 (read by older
// releases) keeps sealing every blob alone.
func TestFormat4WritesNoBundles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := Create(context.Background(), local.New(dir), []byte("pw"), CreateOptions{Key: KeyOptions{KDF: cheapKDF}, formatVersion: 4}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, id := range saveBlobs(t, r, smallBlobs(10, 1000)...) {
		if loc, _ := r.Index().Lookup(id); loc.Bundled {
			t.Fatal("format 4 repository got a bundle")
		}
	}
}

// FuzzBundleMember: the member table of any decoded bundle is parsed
// without panics, and a member found lies inside the bundle.
func FuzzBundleMember(f *testing.F) {
	ids := []blob.ID{{1}, {2}}
	f.Add(appendBundleTable([]byte("onetwo"), ids, []int{3, 3}), byte(2))
	f.Add([]byte{}, byte(1))
	f.Fuzz(func(t *testing.T, plain []byte, which byte) {
		m, err := bundleMember(plain, blob.ID{which})
		if err == nil && len(m) > len(plain) {
			t.Fatalf("member of %d bytes from %d", len(m), len(plain))
		}
	})
}

// TestBundleOfTinyBlobs: the member table counts toward a bundle's size,
// so a bundle of tiny files stays about BundleSize decoded, not a table of
// megabytes that every read of one of its files decodes and searches.
func TestBundleOfTinyBlobs(t *testing.T) {
	r, _ := newTestRepo(t)
	blobs := make([][]byte, 20000)
	for i := range blobs {
		blobs[i] = []byte(fmt.Sprintf("%08d", i))
	}
	ids := saveBlobs(t, r, blobs...)
	members := map[uint32]int{}
	for _, id := range ids {
		loc, _ := r.Index().Lookup(id)
		members[loc.Offset]++
	}
	for off, n := range members {
		if n*(8+bundleEntrySize) > BundleSize+BundleBlobMax {
			t.Fatalf("bundle at %d has %d members", off, n)
		}
	}
	if got, err := r.LoadBlob(context.Background(), ids[12345], nil); err != nil || string(got) != "00012345" {
		t.Fatalf("LoadBlob: %q %v", got, err)
	}
}

// TestReadCabinetBundleMemory: check --read-data reads a cabinet of
// bundles one bundle at a time. It kept every bundle of the cabinet
// decoded until the cabinet was done: 16 MiB of compressible small files
// sealed are hundreds of MiB decoded (a cabinet of 32 MB of small files
// allocated 110 MB here, against 4 MB now).
func TestReadCabinetBundleMemory(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	blobs := smallBlobs(4000, 8000) // 32 MB, compressed to little: one cabinet
	ids := saveBlobs(t, r, blobs...)
	loc, _ := r.Index().Lookup(ids[0])
	if packs := r.Index().Packs(); len(packs) != 1 {
		t.Fatalf("%d cabinets, want 1", len(packs))
	}
	fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(PackName(loc.Pack))))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	damaged, err := r.ReadCabinet(ctx, loc.Pack)
	runtime.ReadMemStats(&after)
	if err != nil || len(damaged) > 0 {
		t.Fatalf("ReadCabinet: %v %v", damaged, err)
	}
	// Less than the blobs' decoded size, which keeping them all decoded
	// takes (16 MB under the race detector, whose sync.Pool drops items).
	limit := uint64(4000 * 8000)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes", got)
	if got > limit {
		t.Fatalf("ReadCabinet of a %d-byte cabinet of %d bytes of blobs allocated %d bytes, want less than their decoded size", fi.Size(), limit, got)
	}
}

// TestBundleTableParsedOnce: a bundle's member table is read once for all
// of its members, by LoadBlob (the bundle memo) and by ReadCabinet. Each
// read of a member searched the whole table: a bundle of tiny files has
// thousands of members, and reading 60,000 tiny blobs took 20 times as
// long as from a format 4 repository (0.86 s against 0.05 s, and the same
// for check --read-data).
func TestBundleTableParsedOnce(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t)
	blobs := make([][]byte, 20000)
	for i := range blobs {
		blobs[i] = []byte(fmt.Sprintf("%08d", i))
	}
	ids := saveBlobs(t, r, blobs...)
	bundles := map[index.Location]bool{}
	for _, id := range ids {
		loc, _ := r.Index().Lookup(id)
		loc.RawLength = 0
		bundles[loc] = true
	}
	if len(bundles) > 8 {
		t.Fatalf("%d bundles: more than the memo keeps", len(bundles))
	}
	for _, tc := range []struct {
		name string
		read func() error
	}{
		{"LoadBlob", func() error {
			for i, id := range ids {
				if got, err := r.LoadBlob(ctx, id, nil); err != nil || !bytes.Equal(got, blobs[i]) {
					return fmt.Errorf("blob %d: %q %v", i, got, err)
				}
			}
			return nil
		}},
		{"ReadCabinet", func() error {
			for _, p := range r.Index().Packs() {
				if damaged, err := r.ReadCabinet(ctx, p); err != nil || len(damaged) > 0 {
					return fmt.Errorf("%v %v", damaged, err)
				}
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.bundles.tablesRead.Load()
			if err := tc.read(); err != nil {
				t.Fatal(err)
			}
			if n := r.bundles.tablesRead.Load() - before; n > int64(len(bundles)) {
				t.Errorf("%d member tables read for %d blobs in %d bundles", n, len(ids), len(bundles))
			}
		})
	}
}

// TestBundleOfMixedFilesCompressed: a bundle is compressed unless its
// contents as a whole look random. Whether to compress was decided on its
// first and last 32 KiB, as for a large slice: a bundle whose first and
// last small files were incompressible (photos, archives) was stored raw
// with the text files between them.
func TestBundleOfMixedFilesCompressed(t *testing.T) {
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	text := smallBlobs(2, 100<<10)
	cases := []struct {
		name  string
		blobs [][]byte
		max   int // sealed bundle length
	}{
		{"random, text, random", [][]byte{random(40 << 10), text[0], text[1], random(40 << 10)}, 100 << 10},
		{"all random", [][]byte{random(100 << 10), random(100 << 10), random(100 << 10)}, 300<<10 + 1<<10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newTestRepo(t)
			ids := saveBlobs(t, r, tc.blobs...)
			loc, _ := r.Index().Lookup(ids[0])
			for i, id := range ids {
				if l, _ := r.Index().Lookup(id); !l.Bundled || l.Offset != loc.Offset {
					t.Fatalf("blob %d not in the first bundle", i)
				}
				if got, err := r.LoadBlob(context.Background(), id, nil); err != nil || !bytes.Equal(got, tc.blobs[i]) {
					t.Fatalf("blob %d: %v", i, err)
				}
			}
			if int(loc.Length) > tc.max {
				t.Errorf("bundle sealed in %d bytes, want at most %d", loc.Length, tc.max)
			}
		})
	}
}

// TestFormat4RefusesBundles: entries of bundled blobs in a repository of
// a format before bundles (which no writer of it made: damage or a
// crafted file) are damage, to the index reader and to check.
func TestFormat4RefusesBundles(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t)
	ids := saveBlobs(t, r, smallBlobs(10, 1000)...)
	loc, _ := r.Index().Lookup(ids[0])
	if !loc.Bundled {
		t.Fatal("format 5 repository wrote no bundle")
	}
	r.cfg.FormatVersion = 4
	names, err := r.ListIndexFiles(ctx)
	if err != nil || len(names) == 0 {
		t.Fatalf("index files: %v %v", names, err)
	}
	if _, err = r.ReadIndexFile(ctx, names[0]); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "format 4") {
		t.Fatalf("index of bundles read as format 4: %v", err)
	}
	var problems []string
	if err := r.CheckStructure(ctx, func(p Problem) { problems = append(problems, p.Message) }); err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 || !strings.Contains(problems[0], "in a bundle") {
		t.Fatalf("check: %q", problems)
	}
	damaged, err := r.ReadCabinet(ctx, loc.Pack)
	if err == nil && len(damaged) == 0 {
		t.Fatal("read of a cabinet of bundles as format 4 found nothing")
	}
}
