package engine

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestReadAhead(t *testing.T) {
	const block = 1000
	failure := errors.New("disk error")
	tests := []struct {
		name    string
		size    int
		failAt  int // -1: never
		readBuf int // the reader's buffer
		closeAt int // stop after this many bytes (-1: read to the end)
	}{
		{"empty", 0, -1, 64, -1},
		{"less than a block", 999, -1, 64, -1},
		{"one block", block, -1, 4096, -1},
		{"blocks and a rest", 5*block + 17, -1, 333, -1},
		{"large reads", 7 * block, -1, 10 * block, -1},
		{"error in the third block", 5 * block, 2*block + 10, 128, -1},
		{"stopped early", 9 * block, -1, 100, 1500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte(rand.IntN(256))
			}
			var src io.Reader = iotest.HalfReader(bytes.NewReader(data)) // short reads
			if tc.failAt >= 0 {
				src = io.MultiReader(bytes.NewReader(data[:tc.failAt]), iotest.ErrReader(failure))
			}
			bufs := [][]byte{make([]byte, block), make([]byte, block), make([]byte, block)}
			ra := newReadAhead(src, bufs)
			var got []byte
			var err error
			p := make([]byte, tc.readBuf)
			for tc.closeAt < 0 || len(got) < tc.closeAt {
				var n int
				n, err = ra.Read(p)
				got = append(got, p[:n]...)
				if err != nil {
					break
				}
			}
			back := ra.Close()
			if len(back) != len(bufs) {
				t.Fatalf("Close gave back %d blocks, want %d", len(back), len(bufs))
			}
			switch {
			case tc.closeAt >= 0:
				if !bytes.Equal(got, data[:len(got)]) {
					t.Fatal("read bytes differ from the file's")
				}
			case tc.failAt >= 0:
				if !errors.Is(err, failure) || !bytes.Equal(got, data[:tc.failAt]) {
					t.Fatalf("read %d bytes then %v; want %d bytes then %v", len(got), err, tc.failAt, failure)
				}
			default:
				if err != io.EOF || !bytes.Equal(got, data) {
					t.Fatalf("read %d bytes then %v; want %d bytes then EOF", len(got), err, len(data))
				}
			}
		})
	}
}
