package mount

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// prepareMountpoint makes sure mountpoint is an existing folder nobody
// serves: it creates a missing one (reported as created), and cleans a
// stale mount left by a crashed server (ENOTCONN) with a lazy unmount.
func prepareMountpoint(mountpoint string, logf func(string, ...any)) (bool, error) {
	fi, err := os.Stat(mountpoint)
	if fstype, ok := mountedAt(mountpoint); ok && err == nil && strings.HasPrefix(fstype, "fuse") {
		// Attributes of a dead mount's root may still be cached: only a
		// request that reaches the server tells a live mount from a dead one.
		if _, rerr := readOne(mountpoint); rerr != nil {
			err = rerr
		}
	}
	switch {
	case errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED):
		logf("mount: %s is a stale mount left by a process that ended without unmounting; detaching it", mountpoint)
		if uerr := detach(mountpoint); uerr != nil {
			return false, fmt.Errorf("%s is a stale mount left by a crashed process and could not be detached (%v): run 'fusermount3 -uz %s' (or 'umount -l %s' as root) and try again", mountpoint, uerr, mountpoint, mountpoint)
		}
		fi, err = os.Stat(mountpoint)
	case errors.Is(err, os.ErrNotExist):
		if err := os.Mkdir(mountpoint, 0o755); err != nil {
			return false, fmt.Errorf("create mount point: %w", err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("mount point: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("mount point %s is not a folder", mountpoint)
	}
	if fstype, ok := mountedAt(mountpoint); ok {
		return false, fmt.Errorf("%s is already a mount point (%s): unmount it first (fusermount3 -u %s) or choose another folder", mountpoint, fstype, mountpoint)
	}
	return false, nil
}

func readOne(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return names, err
}

func detach(mountpoint string) error {
	if os.Geteuid() == 0 {
		if err := syscall.Unmount(mountpoint, syscall.MNT_DETACH); err == nil {
			return nil
		}
	}
	var err error
	for _, prog := range []string{"fusermount3", "fusermount"} {
		var out []byte
		if out, err = exec.Command(prog, "-uz", mountpoint).CombinedOutput(); err == nil {
			return nil
		}
		err = fmt.Errorf("%s: %v: %s", prog, err, strings.TrimSpace(string(out)))
	}
	return err
}

// mountedAt reports the file system type mounted exactly at dir, from
// /proc/self/mountinfo.
func mountedAt(dir string) (string, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found, fstype := false, ""
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || unescape(fields[4]) != abs {
			continue
		}
		for i, x := range fields {
			if x == "-" && i+1 < len(fields) {
				found, fstype = true, fields[i+1] // the last mount at dir wins
			}
		}
	}
	return fstype, found
}

// unescape decodes the octal escapes (\040 for space) of mountinfo.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// waitMounted waits until the kernel lists the cabinet mount at dir.
func waitMounted(ctx context.Context, dir string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fstype, ok := mountedAt(dir); ok && strings.Contains(fstype, "cabinet") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mount at %s did not appear in /proc/self/mountinfo within 10s", dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
