// Package mount serves a cabinet fs.FS through one of the FUSE adapters
// (fs/gofuse, fs/cgofuse) chosen by name, and owns what both need around
// the adapter: the mount point (created if missing, a stale mount left by
// a crash cleaned or explained), readiness, and a clean unmount when the
// context ends (Ctrl-C, SIGTERM).
package mount

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/cabinetbackup/cabinet/fs"
)

// Adapter names.
const (
	GoFuse  = "go-fuse"
	Cgofuse = "cgofuse"
)

// ErrUnavailable is wrapped when the chosen adapter is not in this build
// or not on this OS; the message says how to get it.
var ErrUnavailable = errors.New("mount adapter not available")

// DefaultAdapter is cgofuse on Windows (WinFsp), go-fuse elsewhere.
func DefaultAdapter() string {
	if runtime.GOOS == "windows" {
		return Cgofuse
	}
	return GoFuse
}

// Options tune Serve.
type Options struct {
	// Adapter is GoFuse, Cgofuse or "" (DefaultAdapter).
	Adapter string
	// VolumeName is shown by Finder and Explorer (default "Cabinet").
	VolumeName string
	// Debug logs every FUSE request.
	Debug bool
	// Logf reports what does not stop the mount (default log.Printf).
	Logf func(format string, args ...any)
	// Ready is called once the mount point serves the tree.
	Ready func()
	// MemoryLimit, if set, is the least soft memory limit of the process
	// while mounted; the limit follows the live heap above it (see
	// tuneMemoryLimit). Set it to the slice cache size plus some room.
	MemoryLimit int64
}

// server is a mounted adapter.
type server interface {
	Unmount() error
	Wait()
}

// Serve mounts f at mountpoint and blocks until it is unmounted, from
// outside (umount, fusermount -u, Explorer's eject) or because ctx ended;
// then it unmounts and returns nil. A busy mount point is detached lazily
// and served until the programs using it leave it, or until a second
// SIGINT or SIGTERM (then they get errors once the process ends).
func Serve(ctx context.Context, f *fs.FS, mountpoint string, o Options) error {
	if o.Adapter == "" {
		o.Adapter = DefaultAdapter()
	}
	if o.VolumeName == "" {
		o.VolumeName = "Cabinet"
	}
	if o.Logf == nil {
		o.Logf = log.Printf
	}
	if err := Check(o.Adapter); err != nil {
		return err
	}
	mountFn := mountGoFuse
	if strings.ToLower(o.Adapter) == Cgofuse {
		mountFn = mountCgofuse
	}
	created, err := prepareMountpoint(mountpoint, o.Logf)
	if err != nil {
		return err
	}
	if created {
		defer os.Remove(mountpoint)
	}
	srv, err := mountFn(f, mountpoint, o)
	if err != nil {
		return err
	}
	if err := waitMounted(ctx, mountpoint); err != nil {
		srv.Unmount()
		return err
	}
	if o.Ready != nil {
		o.Ready()
	}
	done := make(chan struct{})
	go func() {
		srv.Wait()
		close(done)
	}()
	if o.MemoryLimit > 0 {
		go tuneMemoryLimit(o.MemoryLimit, done)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// A second Ctrl-C or SIGTERM must still end a mount that programs keep
	// busy: the command's own handler swallows them once ctx has ended.
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	if err := srv.Unmount(); err != nil {
		return err
	}
	if d, ok := srv.(detacher); ok && d.Detached() {
		o.Logf("mount: %s is in use: detached it; the programs using it are served until they leave it (Ctrl-C again to end now, they then get errors)", mountpoint)
		select {
		case <-done:
		case <-again:
		}
		return nil
	}
	<-done
	return nil
}

// detacher is a server whose Unmount may detach a busy mount lazily
// (gofuse.Server.Detached).
type detacher interface{ Detached() bool }

// Check returns nil if adapter is in this build for this OS, else an
// error wrapping ErrUnavailable that says how to get it.
func Check(adapter string) error {
	switch strings.ToLower(adapter) {
	case GoFuse, "gofuse":
		if !goFuseBuilt {
			_, err := mountGoFuse(nil, "", Options{})
			return err
		}
	case Cgofuse:
		if !cgofuseBuilt {
			_, err := mountCgofuse(nil, "", Options{})
			return err
		}
	default:
		return fmt.Errorf("unknown mount adapter %q: use %s or %s", adapter, GoFuse, Cgofuse)
	}
	return nil
}

// Available lists the adapters this build has for this OS.
func Available() []string {
	var out []string
	if goFuseBuilt {
		out = append(out, GoFuse)
	}
	if cgofuseBuilt {
		out = append(out, Cgofuse)
	}
	return out
}
