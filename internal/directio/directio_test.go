package directio

import (
	"bytes"
	"testing"
	"unsafe"
)

func TestPad(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{0, 0}, {1, Align}, {Align - 1, Align}, {Align, Align}, {Align + 1, 2 * Align}} {
		buf := bytes.Repeat([]byte{0xff}, 2*Align)
		got := Pad(buf, tc.n)
		if got != tc.want {
			t.Errorf("Pad(%d) = %d, want %d", tc.n, got, tc.want)
		}
		if !bytes.Equal(buf[tc.n:got], make([]byte, got-tc.n)) || bytes.IndexByte(buf[:tc.n], 0) >= 0 {
			t.Errorf("Pad(%d) did not zero exactly the padding", tc.n)
		}
	}
}

func TestBufferIsAligned(t *testing.T) {
	for _, n := range []int{Align, 3 * Align, 1 << 20} {
		b := Buffer(n)
		if len(b) != n || cap(b) != n || !aligned(b) {
			t.Errorf("Buffer(%d): len %d cap %d aligned %v", n, len(b), cap(b), aligned(b))
		}
	}
}

func aligned(b []byte) bool { return uintptr(unsafe.Pointer(&b[0]))%Align == 0 }
