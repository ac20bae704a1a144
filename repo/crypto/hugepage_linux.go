package crypto

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePageSize is the transparent huge page size of amd64 and arm64 with
// 4 KiB pages; on another size madvise still works, on fewer pages.
const hugePageSize = 2 << 20

// adviseHugePages asks the kernel to back the 2 MiB-aligned part of b with
// transparent huge pages where it is set to do so on request ("madvise",
// the default of most distributions), so that touching b faults once per
// 2 MiB instead of once per 4 KiB. Advice only: an error changes nothing.
func adviseHugePages(b []byte) {
	if len(b) < 2*hugePageSize {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := (p + hugePageSize - 1) &^ (hugePageSize - 1)
	end := (p + uintptr(len(b))) &^ (hugePageSize - 1)
	if end <= start {
		return
	}
	_ = unix.Madvise(b[start-p:end-p], unix.MADV_HUGEPAGE)
}
