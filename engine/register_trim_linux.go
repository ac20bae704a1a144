package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// trimResident drops the register's pages from the process's resident set:
// bbolt reads through a shared read-only mapping of the file, and every
// page a session touches (all of them in a no-change backup, 100 MB for
// 1.1M files) would stay counted in its RSS until exit. MADV_DONTNEED on
// a file mapping only unmaps: the pages stay in the page cache and a later
// read maps them again with a minor fault.
func (r *register) trimResident() {
	fi, err := os.Stat(r.path)
	if err != nil || fi.Size() == 0 {
		return
	}
	size := uintptr(fi.Size()) &^ uintptr(os.Getpagesize()-1)
	unix.Syscall(unix.SYS_MADVISE, r.db.Info().Data, size, unix.MADV_DONTNEED)
}
