package gofuse

import (
	"os"
	"os/exec"
	"syscall"
)

// lazyUnmount detaches a busy mount: MNT_DETACH as root, else fusermount3
// -uz (hanwen/go-fuse#541).
func lazyUnmount(mountpoint string) error {
	if os.Geteuid() == 0 {
		if err := syscall.Unmount(mountpoint, syscall.MNT_DETACH); err == nil {
			return nil
		}
	}
	var err error
	for _, prog := range []string{"fusermount3", "fusermount"} {
		if err = exec.Command(prog, "-uz", mountpoint).Run(); err == nil {
			return nil
		}
	}
	return err
}
