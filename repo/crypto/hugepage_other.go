//go:build !linux

package crypto

// hugePageSize is 0 off Linux, where no advice is given: prefaultHeap
// allocates no room to align huge pages within.
const hugePageSize = 0

// adviseHugePages does nothing off Linux.
func adviseHugePages([]byte) {}
