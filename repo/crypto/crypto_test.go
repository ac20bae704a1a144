package crypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/hkdf"
)

func TestSealOpen(t *testing.T) {
	k, err := NewMasterKey(IDBLAKE3)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("abc"), 10000)} {
		sealed := k.Seal(nil, msg)
		if len(sealed) != len(msg)+Overhead {
			t.Fatalf("sealed %d bytes into %d", len(msg), len(sealed))
		}
		got, err := k.Open(nil, sealed)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("open: %v", err)
		}
		for _, i := range []int{0, len(sealed) / 2, len(sealed) - 1} {
			bad := bytes.Clone(sealed)
			bad[i] ^= 1
			if _, err := k.Open(nil, bad); !errors.Is(err, ErrAuth) {
				t.Fatalf("bit flip at %d: %v", i, err)
			}
		}
		if _, err := k.Open(nil, sealed[:len(sealed)-1]); !errors.Is(err, ErrAuth) {
			t.Fatal("truncated object opened")
		}
	}
}

func TestIDsAreKeyed(t *testing.T) {
	for _, h := range []IDHash{IDBLAKE3, IDHMACSHA256} {
		a, _ := KeyFromMaster([32]byte{1}, h)
		b, _ := KeyFromMaster([32]byte{2}, h)
		if a.ID([]byte("same")) == b.ID([]byte("same")) {
			t.Fatalf("hash %d: two keys give the same ID", h)
		}
		if a.ID([]byte("x")) != a.ID([]byte("x")) {
			t.Fatalf("hash %d: IDs are not deterministic", h)
		}
		if a.IDHash() != h {
			t.Fatalf("IDHash %d, want %d", a.IDHash(), h)
		}
	}
}

// TestIDsAsSpecified computes blob IDs the way docs/FORMAT.md describes
// them, with the hash libraries directly, and compares.
func TestIDsAsSpecified(t *testing.T) {
	master := [32]byte{7, 7, 7}
	subKey := func(info string) []byte {
		k := make([]byte, 32)
		if _, err := io.ReadFull(hkdf.New(sha256.New, master[:], nil, []byte(info)), k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	for _, tc := range []struct {
		hash IDHash
		want func(data []byte) []byte
	}{
		{IDBLAKE3, func(data []byte) []byte {
			h, err := blake3.NewKeyed(subKey("cabinet slice id blake3"))
			if err != nil {
				t.Fatal(err)
			}
			h.Write(data)
			return h.Sum(nil)
		}},
		{IDHMACSHA256, func(data []byte) []byte {
			m := hmac.New(sha256.New, subKey("cabinet slice id v1"))
			m.Write(data)
			return m.Sum(nil)
		}},
	} {
		k, err := KeyFromMaster(master, tc.hash)
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range [][]byte{nil, []byte("abc"), bytes.Repeat([]byte{1, 2, 3}, 400000)} {
			if id := k.ID(data); !bytes.Equal(id[:], tc.want(data)) {
				t.Fatalf("hash %d, %d bytes: ID %x, want %x", tc.hash, len(data), id, tc.want(data))
			}
		}
	}
	if _, err := KeyFromMaster(master, 9); err == nil {
		t.Fatal("an unknown ID hash was accepted")
	}
}

func TestPasswordAEADRefusesAbsurdParams(t *testing.T) {
	if _, err := PasswordAEAD([]byte("pw"), make([]byte, 16), KDFParams{Time: 1, Memory: 1 << 30, Threads: 1}); err == nil {
		t.Fatal("accepted 1 TiB of argon2 memory")
	}
}

func BenchmarkSeal1MiB(b *testing.B) {
	k, _ := NewMasterKey(IDBLAKE3)
	msg := make([]byte, 1<<20)
	buf := make([]byte, 0, len(msg)+Overhead)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		buf = k.Seal(buf[:0], msg)
	}
}

func BenchmarkID(b *testing.B) {
	for _, h := range []struct {
		name string
		hash IDHash
	}{{"blake3", IDBLAKE3}, {"hmac-sha256", IDHMACSHA256}} {
		for _, size := range []int{16 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("%s/%dKiB", h.name, size>>10), func(b *testing.B) {
				k, _ := NewMasterKey(h.hash)
				msg := make([]byte, size)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					k.ID(msg)
				}
			})
		}
	}
}
