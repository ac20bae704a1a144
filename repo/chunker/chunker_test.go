package chunker

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"testing"
)

func testParams(t testing.TB, sizes Sizes) *Params {
	t.Helper()
	p, err := NewParams([32]byte{1, 2, 3}, sizes)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func slices(t testing.TB, p *Params, data []byte) [][]byte {
	t.Helper()
	c := New(p, bytes.NewReader(data), nil)
	var out [][]byte
	for {
		s, err := c.Next(nil)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
}

func TestSizesValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes Sizes
		ok    bool
	}{
		{"default", DefaultSizes(), true},
		{"small", Sizes{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10}, true},
		{"avg not power of two", Sizes{Min: 1 << 10, Avg: 3000, Max: 16 << 10}, false},
		{"min above avg", Sizes{Min: 8 << 10, Avg: 4 << 10, Max: 16 << 10}, false},
		{"max too large", Sizes{Min: 1 << 10, Avg: 4 << 10, Max: 128 << 20}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.sizes.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestSlicesCoverInputWithinBounds(t *testing.T) {
	sizes := Sizes{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}
	p := testParams(t, sizes)
	for _, n := range []int{0, 1, sizes.Min - 1, sizes.Min, sizes.Max + 1, 1 << 20} {
		data := randomBytes(uint64(n), n)
		got := slices(t, p, data)
		if joined := bytes.Join(got, nil); !bytes.Equal(joined, data) {
			t.Fatalf("n=%d: slices do not reassemble the input", n)
		}
		for i, s := range got {
			if len(s) > sizes.Max || (len(s) < sizes.Min && i != len(got)-1) {
				t.Fatalf("n=%d: slice %d has size %d outside [%d, %d]", n, i, len(s), sizes.Min, sizes.Max)
			}
		}
	}
}

func TestBoundariesDependOnKey(t *testing.T) {
	sizes := Sizes{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}
	data := randomBytes(7, 1<<20)
	a := slices(t, testParams(t, sizes), data)
	p2, _ := NewParams([32]byte{9}, sizes)
	b := slices(t, p2, data)
	if len(a) == len(b) && len(a[0]) == len(b[0]) && len(a[1]) == len(b[1]) {
		t.Fatal("two keys cut the same data identically")
	}
}

func TestShiftedContentReusesSlices(t *testing.T) {
	sizes := Sizes{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10}
	p := testParams(t, sizes)
	data := randomBytes(3, 4<<20)
	shifted := append(randomBytes(4, 777), data...)
	seen := map[string]bool{}
	for _, s := range slices(t, p, data) {
		seen[string(s)] = true
	}
	got := slices(t, p, shifted)
	fresh := 0
	for _, s := range got {
		if !seen[string(s)] {
			fresh++
		}
	}
	if fresh > 3 {
		t.Fatalf("%d of %d slices are new after a 777-byte shift; want at most 3", fresh, len(got))
	}
}

func BenchmarkChunker(b *testing.B) {
	p := testParams(b, DefaultSizes())
	data := randomBytes(1, 64<<20)
	buf := make([]byte, 0, DefaultSizes().Max)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c := New(p, bytes.NewReader(data), nil)
		for {
			if _, err := c.Next(buf); err == io.EOF {
				break
			}
		}
	}
}

// TestCutPointsAreStable pins the cut points: a change to them would stop
// new backups from sharing slices with old ones. The digest is of the
// slice lengths of 64 MiB of seeded bytes, cut with the default sizes and
// with small ones (which make every boundary case frequent).
func TestCutPointsAreStable(t *testing.T) {
	for _, tt := range []struct {
		name  string
		sizes Sizes
		want  string
	}{
		{"default", DefaultSizes(), "ccf9443e8761d461fe1385c1fb8cf9407b7ada9f95992add3259d6f32e1e64b4"},
		{"small", Sizes{Min: 64, Avg: 256, Max: 1024}, "2abbfd5ada701b0b5772ec54c5162442871345f2868dc34f985e6af00c2d7fc4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams(t, tt.sizes)
			h := sha256.New()
			n := 0
			for _, s := range slices(t, p, randomBytes(42, 64<<20)) {
				binary.Write(h, binary.LittleEndian, uint32(len(s)))
				n++
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != tt.want {
				t.Errorf("cut points of %d slices: digest %s, want %s", n, got, tt.want)
			}
		})
	}
}

// TestCutMatchesOneByteSteps compares Cut with the gear hash taken one
// byte at a time, on inputs of every parity and all three size ranges.
func TestCutMatchesOneByteSteps(t *testing.T) {
	sizes := Sizes{Min: 64, Avg: 256, Max: 1024}
	p := testParams(t, sizes)
	ref := func(data []byte) int {
		n := min(len(data), sizes.Max)
		if n <= sizes.Min {
			return n
		}
		var fp uint64
		for i := sizes.Min; i < n; i++ {
			fp = (fp << 1) + p.gear[data[i]]
			mask := p.maskL
			if i < min(sizes.Avg, n) {
				mask = p.maskS
			}
			if fp&mask == 0 {
				return i + 1
			}
		}
		return n
	}
	data := randomBytes(7, 1<<20)
	for off := 0; off+2048 < len(data); off += 37 {
		for _, n := range []int{2048, 1023, 1024, 257, 256, 255, 65, 64, 3} {
			if got, want := p.Cut(data[off:off+n]), ref(data[off:off+n]); got != want {
				t.Fatalf("offset %d, %d bytes: Cut = %d, one byte at a time %d", off, n, got, want)
			}
		}
	}
}

// TestZeroRunsCutAsHashed checks the shortcut for runs of zeros cuts where
// the gear hash does, for many keys and lengths, with data after the zeros
// or not.
func TestZeroRunsCutAsHashed(t *testing.T) {
	sizes := Sizes{Min: 256, Avg: 1 << 10, Max: 4 << 10}
	uncut := 0
	for seed := range 300 {
		p, err := NewParams([32]byte{byte(seed), byte(seed >> 8)}, sizes)
		if err != nil {
			t.Fatal(err)
		}
		if p.zerosUncut {
			uncut++
		}
		if hashed := p.cutHashed(make([]byte, sizes.Max)) == sizes.Max; p.zerosUncut != hashed {
			t.Fatalf("seed %d: zeros uncut %v, the hash over Max zeros says %v", seed, p.zerosUncut, hashed)
		}
		for _, n := range []int{1, sizes.Min, sizes.Min + 1, sizes.Avg, sizes.Max - 1, sizes.Max, 3 * sizes.Max} {
			zeros := make([]byte, n)
			if got, want := p.Cut(zeros), p.cutHashed(zeros); got != want {
				t.Fatalf("seed %d, %d zeros: cut at %d, the hash cuts at %d", seed, n, got, want)
			}
			mixed := append(zeros, randomBytes(uint64(seed), sizes.Max)...)
			if got, want := p.Cut(mixed), p.cutHashed(mixed); got != want {
				t.Fatalf("seed %d, %d zeros then data: cut at %d, the hash cuts at %d", seed, n, got, want)
			}
		}
	}
	if uncut < 290 {
		t.Errorf("zeros uncut with %d keys of 300: the shortcut would rarely apply", uncut)
	}
}

// TestZerosHaveCut checks the reckoning of whether zeros hold a cut point
// against hashing them, with masks so short that many keys do.
func TestZerosHaveCut(t *testing.T) {
	seen := map[bool]int{}
	for _, sizes := range []Sizes{{Min: 64, Avg: 128, Max: 4096}, {Min: 64, Avg: 256, Max: 512}, {Min: 100, Avg: 128, Max: 200}} {
		for seed := range 2000 {
			p, err := NewParams([32]byte{byte(seed), byte(seed >> 8), 7}, sizes)
			if err != nil {
				t.Fatal(err)
			}
			hashed := p.cutHashed(make([]byte, sizes.Max)) < sizes.Max
			if got := p.zerosHaveCut(); got != hashed {
				t.Fatalf("sizes %v, seed %d: zerosHaveCut %v, the hash says %v", sizes, seed, got, hashed)
			}
			seen[hashed]++
		}
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Fatalf("keys with and without a cut in zeros: %v; the test needs both", seen)
	}
}
