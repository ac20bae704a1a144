package memlimit

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// A small heap gets the floor as its limit.
func TestTuneSetsALimitAtLeastTheFloor(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const floor = 1 << 40 // far above this test's heap
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() { Tune(floor, 16<<20, time.Millisecond, done); close(finished) }()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) != floor {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d, want the floor %d", debug.SetMemoryLimit(-1), int64(floor))
		}
		time.Sleep(time.Millisecond)
	}
	close(done)
	<-finished
}

// Above a large live heap the limit leaves a quarter of it as room.
func TestTuneLeavesAQuarterAboveALargeHeap(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	keep := make([]byte, 64<<20)
	for i := range keep {
		keep[i] = byte(i)
	}
	runtime.GC() // the live heap is measured by collections
	done := make(chan struct{})
	go Tune(1, 1, time.Millisecond, done)
	defer close(done)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l := debug.SetMemoryLimit(-1); l >= 64<<20+16<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("limit %d with 64 MiB live, want at least 80 MiB", debug.SetMemoryLimit(-1))
		}
		time.Sleep(time.Millisecond)
	}
	_ = keep[len(keep)-1]
}
