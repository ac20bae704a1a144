//go:build linux && cgo && cgofuse

package cgofuse

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// takeSignals makes SIGINT and SIGTERM unmount through Unmount. cgofuse
// answers them itself with a lazy unmount (umount2 MNT_DETACH), after
// which libfuse's own teardown unmounts again and prints "fusermount:
// failed to unmount ...: Invalid argument" (two Ctrl-C in three). Its
// handler is dropped once the file system is initialized (it registers
// then) and the server's takes its place until the mount ends. Reset
// drops every handler of the two signals, so a context the command made
// with signal.NotifyContext no longer ends on them while mounted: the
// mount's end is what ends the command then.
func (s *Server) takeSignals() {
	signal.Reset(syscall.SIGINT, syscall.SIGTERM)
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		defer signal.Stop(c)
		select {
		case <-c:
			s.Unmount()
		case <-s.done:
		}
	}()
}

// unmountHost unmounts for good when the mount is not busy, so the kernel
// ends the FUSE connection and libfuse's teardown sees it ended: umount2
// as root, fusermount -u otherwise. A busy mount point is detached lazily
// by cgofuse (its teardown then complains, harmlessly).
func (s *Server) unmountHost() bool {
	if syscall.Unmount(s.mountpoint, 0) == nil {
		return true
	}
	for _, prog := range []string{"fusermount", "fusermount3"} {
		if exec.Command(prog, "-u", "-q", s.mountpoint).Run() == nil {
			return true
		}
	}
	return s.host.Unmount()
}
