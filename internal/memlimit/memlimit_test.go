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
	go func() { Tune(floor, 16<<20, 4, time.Millisecond, done); close(finished) }()
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

// Above a large live heap the limit leaves its share of it as room: a
// quarter, or an eighth.
func TestTuneLeavesAShareAboveALargeHeap(t *testing.T) {
	for _, share := range []int64{4, 8} {
		testShare(t, share)
	}
}

func testShare(t *testing.T, share int64) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	keep := make([]byte, 64<<20)
	for i := range keep {
		keep[i] = byte(i)
	}
	runtime.GC() // the live heap is measured by collections
	done := make(chan struct{})
	go Tune(1, 1, share, time.Millisecond, done)
	defer close(done)
	want := int64(64<<20 + 64<<20/share)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l := debug.SetMemoryLimit(-1); l >= want && l < want+64<<20/share {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("share %d: limit %d with 64 MiB live, want %d to %d", share, debug.SetMemoryLimit(-1), want, want+64<<20/share)
		}
		time.Sleep(time.Millisecond)
	}
	runtime.KeepAlive(keep)
}

// The limit follows the live heap after each collection, not only at the
// ticks: a heap that grew meets a limit above it at once.
func TestTuneFollowsEachCollection(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	done := make(chan struct{})
	go Tune(1, 1, 4, time.Hour, done) // one tick: the start
	defer close(done)
	time.Sleep(10 * time.Millisecond)
	keep := make([]byte, 64<<20)
	for i := range keep {
		keep[i] = byte(i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) < 64<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d with 64 MiB live after collections, want above it", debug.SetMemoryLimit(-1))
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	runtime.KeepAlive(keep)
}
