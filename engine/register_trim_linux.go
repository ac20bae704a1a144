package engine

import (
	"os"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// trimResident drops the register's pages from the process's resident set:
// bbolt reads through a shared read-only mapping of the file, and every
// page a session touches (all of them in a no-change backup, 100 MB for
// 1.1M files) would stay counted in its RSS until exit. MADV_DONTNEED on
// a file mapping only unmaps: the pages stay in the page cache and a later
// read maps them again with a minor fault.
//
// tx is an open read transaction: while it is open bbolt cannot remap the
// file, and the database size it sees lies inside the mapping (the file
// itself may already be longer, grown by a commit waiting to remap, and
// the memory after the mapping may be anything, the Go heap included).
func trimResident(tx *bolt.Tx) {
	size := uintptr(tx.Size()) &^ uintptr(os.Getpagesize()-1)
	if size == 0 {
		return
	}
	unix.Syscall(unix.SYS_MADVISE, tx.DB().Info().Data, size, unix.MADV_DONTNEED)
}
