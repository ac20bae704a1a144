//go:build !windows && !freebsd

package engine

import "golang.org/x/sys/unix"

// mknod makes a device or FIFO node.
func mknod(path string, mode uint32, dev uint64) error { return unix.Mknod(path, mode, int(dev)) }
