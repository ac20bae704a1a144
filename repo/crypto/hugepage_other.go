//go:build !linux

package crypto

// hugePageSize is extra room prefaultHeap allocates for alignment; no
// advice is given off Linux.
const hugePageSize = 2 << 20

// adviseHugePages does nothing off Linux.
func adviseHugePages([]byte) {}
