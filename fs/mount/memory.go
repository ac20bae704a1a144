package mount

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memoryHeadroom is how far the heap may grow above what survived the last
// collection before the next one. Slice buffers are recycled (fs), so a
// sequential read allocates little; measured on a mount that had walked a
// 78,000-file session, a 1 GiB cat: 24 MiB gave 15 collections and 151 MiB
// peak RSS, 32 MiB 10-14 and 156 MiB, 48 MiB 8 and 165 MiB.
const memoryHeadroom = 32 << 20

// tuneMemoryLimit keeps the soft memory limit at max(floor, live heap +
// max(memoryHeadroom, live heap / 4)) until done closes. The quarter is for
// large live heaps: a find over a million-file session keeps ~550 MiB of
// nodes the kernel knows, and 32 MiB of room made the collector mark all
// of it every few milliseconds (daemon CPU 36 s, find 29 s; with a quarter
// 12.5 s and 14 s, peak RSS 708 -> 770 MiB; restic: 13 s at 794 MiB). A fixed limit below the live heap
// (a walked 78,000-file session keeps ~50 MiB of nodes the kernel knows)
// makes the collector run without pause and slowed a 1 GiB read 3-5x; no
// limit lets the heap double (GOGC) before collecting.
func tuneMemoryLimit(floor int64, done <-chan struct{}) {
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
		// added, or the heap gets far less room than memoryHeadroom.
		overhead := max(v(1)-v(2)-v(3)-v(4), 0)
		debug.SetMemoryLimit(max(floor, v(0)+max(memoryHeadroom, v(0)/4)+overhead))
	}
	set()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			set()
		}
	}
}
