package gofuse

import "os/exec"

// lazyUnmount force-unmounts a busy mount.
func lazyUnmount(mountpoint string) error {
	return exec.Command("/sbin/umount", "-f", mountpoint).Run()
}
