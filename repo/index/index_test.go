package index

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/pack"
)

func randomID(r *rand.Rand) blob.ID {
	var id blob.ID
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	return id
}

func samplePacks(n, per int) []PackEntries {
	r := rand.New(rand.NewPCG(1, 2))
	packs := make([]PackEntries, n)
	for i := range packs {
		packs[i].Pack = randomID(r)
		for j := 0; j < per; j++ {
			packs[i].Entries = append(packs[i].Entries, pack.Entry{Type: blob.Type(j % 2), ID: randomID(r), Offset: uint32(j * 100), Length: 100, RawLength: 80})
		}
	}
	return packs
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, tc := range []struct{ packs, per int }{{0, 0}, {1, 1}, {3, 50}} {
		packs := samplePacks(tc.packs, tc.per)
		got, err := Decode(Encode(packs))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(Encode(got), Encode(packs)) {
			t.Fatalf("%d packs x %d: round trip differs", tc.packs, tc.per)
		}
	}
}

func TestDecodeRefusesUnknownVersionAndTruncation(t *testing.T) {
	data := Encode(samplePacks(2, 3))
	bad := bytes.Clone(data)
	bad[0] = 9
	if _, err := Decode(bad); err == nil || !bytes.Contains([]byte(err.Error()), []byte("version 9")) {
		t.Fatalf("unknown version: got %v", err)
	}
	for n := 0; n < len(data); n += 7 {
		if _, err := Decode(data[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}

func TestLookupAfterAddAndCompact(t *testing.T) {
	packs := samplePacks(4, 100)
	x := New()
	x.Add(packs[:2]...)
	x.Compact()
	x.Add(packs[2:]...)
	for _, p := range packs {
		for _, e := range p.Entries {
			loc, ok := x.Lookup(e.ID)
			if !ok || loc.Pack != p.Pack || loc.Offset != e.Offset || loc.Type != e.Type {
				t.Fatalf("lookup %s: %+v %v", e.ID.Short(), loc, ok)
			}
		}
	}
	if x.Len() != 400 {
		t.Fatalf("Len = %d, want 400", x.Len())
	}
	if x.Has(blob.ID{1}) {
		t.Fatal("unknown ID found")
	}
}

// Blobs added in several rounds merge into the sorted array in place once
// Reserve made room, and every one of them is found; a blob already
// indexed keeps its first location.
func TestReserveMergesInPlace(t *testing.T) {
	packs := samplePacks(10, 500)
	x := New()
	x.Add(packs[0])
	x.Compact()
	x.Reserve(9 * 500)
	before := &x.sorted[:cap(x.sorted)][0]
	for i := 1; i < len(packs); i++ {
		x.Add(packs[i])
		if i%3 == 0 {
			x.Compact()
		}
	}
	again := PackEntries{Pack: blob.ID{0xee}, Entries: packs[4].Entries[:5]}
	x.Load([]PackEntries{again}, 0)
	x.Compact()
	if &x.sorted[0] != before {
		t.Error("the sorted array was copied despite Reserve")
	}
	if x.Len() != 5000 {
		t.Fatalf("Len = %d, want 5000", x.Len())
	}
	for _, p := range packs {
		for _, e := range p.Entries {
			if loc, ok := x.Lookup(e.ID); !ok || loc.Pack != p.Pack || loc.Offset != e.Offset {
				t.Fatalf("lookup %s: %+v %v, want cabinet %s", e.ID.Short(), loc, ok, p.Pack.Short())
			}
		}
	}
	if !slices.IsSortedFunc(x.sorted, func(a, b entry) int { return bytes.Compare(a.key[:], b.key[:]) }) {
		t.Fatal("sorted array out of order")
	}
}

// A few blobs added to a large index stay in the map: merging them would
// copy the whole array.
func TestFewBlobsStayInTheMap(t *testing.T) {
	packs := samplePacks(3, 1000)
	x := New()
	x.Load(packs[:2], 2000)
	x.Compact()
	first := &x.sorted[0]
	x.Reserve(10)
	x.Add(PackEntries{Pack: packs[2].Pack, Entries: packs[2].Entries[:10]})
	x.Compact()
	if &x.sorted[0] != first || len(x.added) != 10 {
		t.Fatalf("10 new blobs: array copied %v, %d in the map", &x.sorted[0] != first, len(x.added))
	}
	for _, e := range packs[2].Entries[:10] {
		if !x.Has(e.ID) {
			t.Fatalf("%s not found", e.ID.Short())
		}
	}
	x.Add(packs[2])
	x.Compact()
	if len(x.added) != 0 || x.Len() != 3000 {
		t.Fatalf("after 1,000 more: %d in the map, Len %d", len(x.added), x.Len())
	}
}

// TestMemoryPerBlob measures what one indexed blob costs in memory.
func TestMemoryPerBlob(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates")
	}
	const n = 1_000_000
	packs := samplePacks(n/1000, 1000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := New()
	for i := range packs {
		x.Add(packs[i])
		if i%100 == 99 {
			x.Compact()
		}
	}
	x.Compact()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(packs)
	per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	t.Logf("index memory: %.1f bytes per blob (%d blobs)", per, x.Len())
	// 32-byte entries, the prefix table and the sorted array's spare room
	// (Compact grows it by a quarter): 34.7. With whole IDs in 48-byte
	// entries: 50.7; in 52-byte ones: 54.7.
	if per > 37 {
		t.Fatalf("index takes %.1f bytes per blob, want under 37", per)
	}
}

func BenchmarkLookup(b *testing.B) {
	packs := samplePacks(1000, 1000)
	x := New()
	x.Add(packs...)
	x.Compact()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := packs[i%1000]
		x.Has(p.Entries[i%1000].ID)
		i++
	}
}

func FuzzDecode(f *testing.F) {
	valid := Encode(samplePacks(2, 2))
	f.Add(valid)
	f.Add([]byte{FormatVersion, 0})
	if os.Getenv("CABINET_WRITE_FUZZ_SEEDS") != "" {
		dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
		os.MkdirAll(dir, 0o755)
		var q bytes.Buffer
		for _, c := range valid {
			q.WriteString("\\x")
			q.WriteByte("0123456789abcdef"[c>>4])
			q.WriteByte("0123456789abcdef"[c&15])
		}
		os.WriteFile(filepath.Join(dir, "seed-valid"), []byte("go test fuzz v1\n[]byte(\""+q.String()+"\")\n"), 0o644)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		packs, err := Decode(data)
		if err != nil {
			return
		}
		if !bytes.Equal(Encode(packs), data) {
			t.Fatal("decoded index does not re-encode to the same bytes")
		}
	})
}

// TestLookupAcrossSizes covers the prefix table at every size class,
// including IDs at both ends of the range and IDs that are missing.
func TestLookupAcrossSizes(t *testing.T) {
	low, high := blob.ID{}, blob.ID{}
	for i := range high {
		high[i] = 0xff
	}
	for _, n := range []int{0, 1, 2, 3, 7, 64, 1000, 5003} {
		x := New()
		r := rand.New(rand.NewPCG(uint64(n), 9))
		p := PackEntries{Pack: randomID(r)}
		for i := range n {
			id := randomID(r)
			switch i {
			case 0:
				id = low
			case 1:
				id = high
			}
			p.Entries = append(p.Entries, pack.Entry{ID: id, Offset: uint32(i)})
		}
		x.Add(p)
		x.Compact()
		for _, e := range p.Entries {
			if loc, ok := x.Lookup(e.ID); !ok || loc.Offset != e.Offset {
				t.Fatalf("%d blobs: lookup %s = %+v, %v", n, e.ID.Short(), loc, ok)
			}
		}
		for range 200 {
			if id := randomID(r); x.Has(id) {
				t.Fatalf("%d blobs: unknown %s found", n, id.Short())
			}
		}
		if n < 2 && (x.Has(high) != (n > 1) || x.Has(low) != (n > 0)) {
			t.Fatalf("%d blobs: the ends of the ID range are wrong", n)
		}
	}
}

// TestLoadKeepsFirstLocation: blobs loaded in bulk are found after Compact,
// and a blob in several cabinets (loaded, or added before) keeps the
// location recorded first.
func TestLoadKeepsFirstLocation(t *testing.T) {
	packs := samplePacks(3, 50)
	dup := packs[0].Entries[7]
	again := PackEntries{Pack: blob.ID{9}, Entries: []pack.Entry{dup, {ID: blob.ID{1, 2}, Offset: 5}}}
	x := New()
	x.Add(packs[2])
	x.Load(packs[:2], 0)
	x.Load([]PackEntries{again, packs[2]}, 0)
	if x.Has(dup.ID) {
		t.Fatal("a loaded blob is found before Compact")
	}
	x.Compact()
	if x.Len() != 151 {
		t.Fatalf("Len = %d, want 151 (150 + 1 new; duplicates once)", x.Len())
	}
	for i, p := range packs {
		for _, e := range p.Entries {
			if loc, ok := x.Lookup(e.ID); !ok || loc.Pack != p.Pack || loc.Offset != e.Offset {
				t.Fatalf("pack %d: lookup %s = %+v %v, want the first location", i, e.ID.Short(), loc, ok)
			}
		}
	}
	if loc, ok := x.Lookup(blob.ID{1, 2}); !ok || loc.Pack != again.Pack {
		t.Fatalf("new blob of the second load: %+v %v", loc, ok)
	}
}

// BenchmarkLoadCompact loads 160,000 blobs (about the benchmark corpus's
// repository) from 40 index files and sorts them in.
func BenchmarkLoadCompact(b *testing.B) {
	packs := samplePacks(40, 4000)
	for b.Loop() {
		x := New()
		x.Load(packs, 160000)
		x.Compact()
	}
}

// TestSortEntries sorts entries with repeated IDs, above and below the
// size where the radix pass starts, as one sort of the whole array does.
func TestSortEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{0, 1, 100, 20000, 70000} {
		es := make([]entry, n)
		for i := range es {
			es[i] = entry{key: KeyOf(randomID(r)), packType: uint32(r.IntN(50)) << typeBits, offset: uint32(i)}
			if i > 0 && r.IntN(5) == 0 { // the same blob in another cabinet
				es[i].key = es[r.IntN(i)].key
			}
			if r.IntN(7) == 0 { // IDs that share their first eight bytes
				copy(es[i].key[:8], es[0].key[:8])
			}
		}
		want := slices.Clone(es)
		slices.SortStableFunc(want, compareEntries)
		sortEntries(es)
		for i := range es {
			if compareEntries(es[i], want[i]) != 0 {
				t.Fatalf("%d entries: entry %d is %x/%d, want %x/%d", n, i, es[i].key[:6], es[i].pack(), want[i].key[:6], want[i].pack())
			}
		}
	}
}
