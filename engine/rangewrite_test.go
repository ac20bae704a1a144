//go:build !windows

package engine

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRangeWriter writes a file's ranges out of order through O_DIRECT
// (where the file system takes it) and without, and reads them back:
// zero blocks stay holes, a file ending inside a block keeps its size.
func TestRangeWriter(t *testing.T) {
	r := rand.New(rand.NewChaCha8([32]byte{5}))
	size := int64(3*rangeStage + 2*blockAlign + 777) // ends inside a block
	want := randomBytes(r, int(size))
	clear(want[rangeStage : 2*rangeStage]) // a whole stage of zeros: a hole
	clear(want[size-900:])                 // zeros inside the last block
	for _, direct := range []bool{true, false} {
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
		half := size / 2 / blockAlign * blockAlign
		for _, rg := range [][2]int64{{half, size}, {0, half}} { // the end first
			fh, isDirect := (*os.File)(nil), false
			var err error
			if direct {
				fh, isDirect, err = openDirect(p)
			} else {
				fh, err = openFile(p, os.O_WRONLY, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("direct %v: O_DIRECT %v", direct, isDirect)
			w := rangeWriter{fh: fh, direct: isDirect, stage: newStage(), pos: rg[0]}
			for off := rg[0]; off < rg[1]; {
				n := min(int64(r.IntN(3<<20)+1), rg[1]-off) // uneven writes
				if err := w.write(want[off : off+n]); err != nil {
					t.Fatal(err)
				}
				off += n
			}
			if err := w.finish(size); err != nil {
				t.Fatal(err)
			}
			fh.Close()
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("direct %v: read back %d bytes (%v), want the %d written", direct, len(got), err, size)
		}
		fi, _ := os.Stat(p)
		if alloc := fi.Sys().(*syscall.Stat_t).Blocks * 512; alloc > size-rangeStage+64<<10 {
			t.Errorf("direct %v: %d bytes allocated for %d with a %d-byte hole", direct, alloc, size, rangeStage)
		}
	}
}

// TestRestoreLargeFiles restores files of more than partSlices slices,
// written in aligned ranges by several workers: random data with zero runs
// at unaligned places, sizes inside a block and on a range's edge.
func TestRestoreLargeFiles(t *testing.T) {
	rnd := rand.New(rand.NewChaCha8([32]byte{6}))
	random := func(n int) []byte { return randomBytes(rnd, n) }
	holes := random(3*rangeBytes + 12345)
	clear(holes[rangeBytes-5000 : 2*rangeBytes+7000]) // across two range edges
	restored := restoreRoundTrip(t, map[string][]byte{
		"edge":  random(2 * rangeBytes),
		"holes": holes,
	})
	fi, _ := os.Stat(filepath.Join(restored, "holes"))
	if alloc := fi.Sys().(*syscall.Stat_t).Blocks * 512; alloc > int64(len(holes))-rangeBytes {
		t.Errorf("holes: %d bytes allocated for %d bytes with a %d-byte zero run", alloc, len(holes), rangeBytes+12000)
	}
}

// TestRestoreFilesAroundDirectBytes restores files of one part on both
// sides of directBytes: those from directBytes on take the large files'
// aligned writes, so one ending inside a block, one ending in zeros and
// one with a hole must come back whole and at their size.
func TestRestoreFilesAroundDirectBytes(t *testing.T) {
	rnd := rand.New(rand.NewChaCha8([32]byte{7}))
	random := func(n int) []byte { return randomBytes(rnd, n) }
	zeroTail := random(directBytes + 3*blockAlign + 100)
	clear(zeroTail[directBytes:])
	hole := random(directBytes + 5*blockAlign)
	clear(hole[blockAlign : 4*blockAlign+17])
	restored := restoreRoundTrip(t, map[string][]byte{
		"below":     random(directBytes - 1),
		"at":        random(directBytes),
		"in-block":  random(directBytes + 777),
		"zero-tail": zeroTail,
		"hole":      hole,
	})
	fi, _ := os.Stat(filepath.Join(restored, "zero-tail"))
	if alloc := fi.Sys().(*syscall.Stat_t).Blocks * 512; alloc > directBytes+blockAlign {
		t.Errorf("zero-tail: %d bytes allocated for %d bytes of data", alloc, directBytes)
	}
}
