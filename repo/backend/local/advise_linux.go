package local

import (
	"os"

	"golang.org/x/sys/unix"
)

// adviseWillNeed has the kernel read a range into the page cache now.
func adviseWillNeed(f *os.File, off, length int64) {
	if sc, err := f.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) { unix.Fadvise(int(fd), off, length, unix.FADV_WILLNEED) })
	}
}
