// Package memlimit keeps the Go runtime's soft memory limit a step above
// the live heap, so a process can run with a generous GOGC while its heap
// is small and still collect often once it is large.
package memlimit

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Tune sets the soft memory limit to max(floor, live heap + room) every
// interval until done closes, where room is max(minRoom, live heap /
// share).
//
// Why not a fixed limit: once the live heap passes it the collector runs
// without pause (a backup with 78,000 files queued took twice as long; a
// mount's 1 GiB read 3-5x). Why a share of the live heap: with a fixed
// room above a large live heap the collector marks all of it every few
// milliseconds (a mount that had walked a million files: daemon CPU 36 s
// for one find, 29 s wall; with a quarter 12.5 s and 14 s).
func Tune(floor, minRoom, share int64, interval time.Duration, done <-chan struct{}) {
	sample := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	set := func() {
		metrics.Read(sample)
		for _, s := range sample {
			if s.Value.Kind() != metrics.KindUint64 {
				debug.SetMemoryLimit(floor)
				return
			}
		}
		v := func(i int) int64 { return int64(sample[i].Value.Uint64()) }
		// The limit counts all the runtime's memory; what is neither heap
		// objects nor free pages (span waste, metadata, stacks) must be
		// added, or the heap gets far less room than asked.
		overhead := max(v(1)-v(2)-v(3)-v(4), 0)
		live := v(0)
		debug.SetMemoryLimit(max(floor, live+max(minRoom, live/share)+overhead))
	}
	set()
	// Also right after every collection: a heap that grows faster than the
	// ticks meets a limit set for the smaller heap it was, and the
	// collector runs back to back until the next tick (day-2 backup of the
	// corpus: 13 collections in 106 ms as its large files began).
	collected := make(chan struct{}, 1)
	stop := afterEachGC(func() {
		select {
		case collected <- struct{}{}:
		default:
		}
	})
	defer stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			set()
		case <-collected:
			set()
		}
	}
}

// afterEachGC calls f (on the finalizer goroutine: it must not block)
// after each garbage collection until stop is called: a finalizer that
// sets itself again on the object it finalizes.
func afterEachGC(f func()) (stop func()) {
	var stopped atomic.Bool
	type sentinel struct{ _ [16]byte } // not a tiny allocation: finalized alone
	var rearm func(*sentinel)
	rearm = func(s *sentinel) {
		if stopped.Load() {
			return
		}
		f()
		runtime.SetFinalizer(s, rearm)
	}
	runtime.SetFinalizer(&sentinel{}, rearm)
	return func() { stopped.Store(true) }
}
