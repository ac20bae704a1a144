package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := NewMasterKey()
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
	a, _ := KeyFromMaster([32]byte{1})
	b, _ := KeyFromMaster([32]byte{2})
	if a.ID([]byte("same")) == b.ID([]byte("same")) {
		t.Fatal("two keys give the same ID")
	}
	if a.ID([]byte("x")) != a.ID([]byte("x")) {
		t.Fatal("IDs are not deterministic")
	}
}

func TestPasswordAEADRefusesAbsurdParams(t *testing.T) {
	if _, err := PasswordAEAD([]byte("pw"), make([]byte, 16), KDFParams{Time: 1, Memory: 1 << 30, Threads: 1}); err == nil {
		t.Fatal("accepted 1 TiB of argon2 memory")
	}
}

func BenchmarkSeal1MiB(b *testing.B) {
	k, _ := NewMasterKey()
	msg := make([]byte, 1<<20)
	buf := make([]byte, 0, len(msg)+Overhead)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		buf = k.Seal(buf[:0], msg)
	}
}

func BenchmarkID1MiB(b *testing.B) {
	k, _ := NewMasterKey()
	msg := make([]byte, 1<<20)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		k.ID(msg)
	}
}
