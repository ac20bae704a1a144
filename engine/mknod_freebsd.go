package engine

import "golang.org/x/sys/unix"

// mknod makes a device or FIFO node; FreeBSD's device numbers are 64 bits.
func mknod(path string, mode uint32, dev uint64) error { return unix.Mknod(path, mode, dev) }
