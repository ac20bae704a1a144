package pack

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/crypto"
)

func testKey(t testing.TB) *crypto.Key {
	t.Helper()
	k, err := crypto.KeyFromMaster([32]byte{42}, crypto.IDBLAKE3)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func buildCabinet(t testing.TB, k *crypto.Key, blobs ...[]byte) ([]byte, blob.ID, []Entry) {
	w := NewWriter(0, sha256.New)
	for i, b := range blobs {
		typ := blob.Data
		if i%2 == 1 {
			typ = blob.Tree
		}
		w.Add(typ, k.ID(b), k.Seal(nil, b), len(b))
	}
	entries := append([]Entry(nil), w.Entries()...)
	data, name, err := w.Finish(k)
	if err != nil {
		t.Fatal(err)
	}
	return data, name, entries
}

func readHeader(k *crypto.Key, data []byte) ([]Entry, error) {
	if len(data) < TrailerSize() {
		return nil, ErrFormat
	}
	off, hl, err := HeaderLocation(data[len(data)-TrailerSize():], int64(len(data)))
	if err != nil {
		return nil, err
	}
	return ParseHeader(k, data[off:off+int64(hl)], off)
}

func TestCabinetRoundTrip(t *testing.T) {
	k := testKey(t)
	data, _, want := buildCabinet(t, k, []byte("one"), bytes.Repeat([]byte("two"), 1000), []byte("three"))
	got, err := readHeader(k, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestStreamWriterMatchesMemoryWriter: both writers give the same bytes,
// named by the sum of the name hash over them, with either name hash.
func TestStreamWriterMatchesMemoryWriter(t *testing.T) {
	k := testKey(t)
	for _, tc := range []struct {
		name string
		hash NameHash
		sum  func([]byte) blob.ID
	}{
		{"sha256", sha256.New, func(b []byte) blob.ID { return sha256.Sum256(b) }},
		{"blake3", func() hash.Hash { return blake3.New() }, func(b []byte) blob.ID { return blake3.Sum256(b) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sink bytes.Buffer
			sw := NewStreamWriter(&sink, tc.hash)
			mw := NewWriter(0, tc.hash)
			for _, b := range [][]byte{[]byte("a"), []byte("bb")} {
				sealed := k.Seal(nil, b)
				sw.Add(blob.Data, k.ID(b), sealed, len(b))
				mw.Add(blob.Data, k.ID(b), sealed, len(b))
			}
			_, sname, err := sw.Finish(k)
			if err != nil {
				t.Fatal(err)
			}
			data, mname, _ := mw.Finish(k)
			if tc.sum(sink.Bytes()) != sname || tc.sum(data) != mname || len(data) != sink.Len() {
				t.Fatal("a cabinet's name is not the name hash of its bytes")
			}
		})
	}
}

func TestDamagedCabinetsAreRefused(t *testing.T) {
	k := testKey(t)
	data, _, _ := buildCabinet(t, k, []byte("one"), []byte("two"))
	for _, tc := range []struct {
		name   string
		mutate func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-3] }},
		{"bit flip in header", func(b []byte) []byte { b[len(b)-TrailerSize()-5] ^= 1; return b }},
		{"header length too large", func(b []byte) []byte { b[len(b)-8] = 0xff; b[len(b)-7] = 0xff; return b }},
		{"empty", func(b []byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := readHeader(k, tc.mutate(bytes.Clone(data))); err == nil {
				t.Fatal("damaged cabinet accepted")
			}
		})
	}
}

// TestBundleEntries: the blobs of a bundle share its offset and length in
// the header; a header entry that continues a bundle must follow one.
func TestBundleEntries(t *testing.T) {
	k := testKey(t)
	w := NewWriter(0, sha256.New)
	w.Add(blob.Data, blob.ID{9}, k.Seal(nil, []byte("alone")), 5)
	sealed := k.Seal(nil, []byte("bundle of three"))
	w.AddBundle([]blob.ID{{1}, {2}, {3}}, []int{10, 20, 30}, sealed)
	w.AddBundle([]blob.ID{{4}}, []int{40}, k.Seal(nil, []byte("bundle of one")))
	w.Add(blob.Tree, blob.ID{5}, k.Seal(nil, []byte("tree")), 4)
	data, _, err := w.Finish(k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readHeader(k, data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w.Entries()) {
		t.Fatalf("decoded %+v\nwant %+v", got, w.Entries())
	}
	if got[1].Offset != got[3].Offset || got[3].Length != uint32(len(sealed)) || !got[3].Bundled || got[4].Offset == got[3].Offset || got[5].Bundled {
		t.Fatalf("bundle entries: %+v", got)
	}
	// A continuation (bundled, length 0) first, or after a lone blob.
	for _, first := range []byte{TypeBundled, byte(blob.Data)} {
		hdr := make([]byte, 2*HeaderEntrySize)
		hdr[0], hdr[1] = first, 100
		hdr[HeaderEntrySize] = TypeBundled
		if first == TypeBundled {
			hdr = hdr[HeaderEntrySize:]
		}
		if _, err := DecodeHeader(hdr, 100); !errors.Is(err, ErrFormat) {
			t.Fatalf("continuation after type %d: got %v, want ErrFormat", first, err)
		}
	}
}

func TestDecodeHeaderRejectsInconsistentLengths(t *testing.T) {
	hdr := make([]byte, HeaderEntrySize)
	hdr[1] = 100
	if _, err := DecodeHeader(hdr, 50); !errors.Is(err, ErrFormat) {
		t.Fatalf("got %v, want ErrFormat", err)
	}
}

func FuzzDecodeHeader(f *testing.F) {
	k := testKey(f)
	w := NewWriter(0, sha256.New)
	w.Add(blob.Data, k.ID([]byte("x")), k.Seal(nil, []byte("x")), 1)
	hdr := make([]byte, 0)
	for _, e := range w.Entries() {
		hdr = append(hdr, byte(e.Type), byte(e.Length), 0, 0, 0, 1, 0, 0, 0)
		hdr = append(hdr, e.ID[:]...)
	}
	f.Add(hdr, int64(w.Size()))
	f.Add([]byte{}, int64(0))
	b := NewWriter(0, sha256.New)
	b.AddBundle([]blob.ID{{1}, {2}}, []int{3, 4}, k.Seal(nil, []byte("bundle")))
	bundled, _, err := b.Finish(k)
	if err != nil {
		f.Fatal(err)
	}
	hoff, hl, _ := HeaderLocation(bundled[len(bundled)-TrailerSize():], int64(len(bundled)))
	plainHdr, _ := k.Open(nil, bundled[hoff:hoff+int64(hl)])
	f.Add(plainHdr, hoff)
	f.Fuzz(func(t *testing.T, data []byte, off int64) {
		entries, err := DecodeHeader(data, off)
		if err != nil {
			return
		}
		var sum int64
		for i, e := range entries {
			if i > 0 && e.Bundled && entries[i-1].Bundled && entries[i-1].Offset == e.Offset {
				continue // the same bundle
			}
			sum += int64(e.Length)
		}
		if sum != off {
			t.Fatalf("accepted header whose entries cover %d bytes, header at %d", sum, off)
		}
	})
}

func FuzzCabinet(f *testing.F) {
	k := testKey(f)
	data, _, _ := buildCabinet(f, k, []byte("one"), []byte("two"))
	f.Add(data)
	writeSeed(f, "FuzzCabinet", data)
	f.Fuzz(func(t *testing.T, data []byte) {
		readHeader(k, data) // must not panic
	})
}

// writeSeed stores a seed in testdata/fuzz when CABINET_WRITE_FUZZ_SEEDS is
// set, so the committed corpus follows the encoder.
func writeSeed(f *testing.F, name string, data []byte) {
	if os.Getenv("CABINET_WRITE_FUZZ_SEEDS") == "" {
		return
	}
	dir := filepath.Join("testdata", "fuzz", name)
	os.MkdirAll(dir, 0o755)
	content := "go test fuzz v1\n[]byte(" + quote(data) + ")\n"
	os.WriteFile(filepath.Join(dir, "seed-valid"), []byte(content), 0o644)
}

func quote(b []byte) string {
	var buf bytes.Buffer
	buf.WriteByte('"')
	for _, c := range b {
		buf.WriteString("\\x")
		buf.WriteByte("0123456789abcdef"[c>>4])
		buf.WriteByte("0123456789abcdef"[c&15])
	}
	buf.WriteByte('"')
	return buf.String()
}
