//go:build !linux

package mount

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
)

// prepareMountpoint: on Windows WinFsp wants a drive letter or a folder
// that does not exist yet (it creates it); on macOS the folder must exist.
func prepareMountpoint(mountpoint string, logf func(string, ...any)) (bool, error) {
	if runtime.GOOS == "windows" {
		if len(mountpoint) == 2 && mountpoint[1] == ':' || mountpoint == "*" {
			return false, nil
		}
		if _, err := os.Stat(mountpoint); err == nil {
			return false, fmt.Errorf("mount point %s exists: on Windows give a drive letter (X:) or a folder that does not exist yet", mountpoint)
		}
		return false, nil
	}
	fi, err := os.Stat(mountpoint)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(mountpoint, 0o755); err != nil {
			return false, fmt.Errorf("create mount point: %w", err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("mount point %s: %w (a stale mount? run 'umount -f %s')", mountpoint, err, mountpoint)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("mount point %s is not a folder", mountpoint)
	}
	return false, nil
}

// waitMounted polls until the mount point answers (the adapters return
// once the file system is initialized).
func waitMounted(ctx context.Context, dir string) error {
	if len(dir) == 2 && dir[1] == ':' {
		dir += `\`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(dir); err == nil {
			return nil
		}
		if time.Now().After(deadline) || dir == "*" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
