//go:build linux || darwin

package persona

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// readXattrs returns the portable extended attributes of p (not following
// links); ok is false when the file system does not support them.
func readXattrs(p string) (map[string][]byte, bool) {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil {
		return nil, !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EOPNOTSUPP)
	}
	if sz == 0 {
		return nil, true
	}
	buf := make([]byte, sz)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil, false
	}
	var out map[string][]byte
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if !portableXattr(name) {
			continue
		}
		vs, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vs)
		if vs > 0 {
			if vs, err = unix.Lgetxattr(p, name, val); err != nil {
				continue
			}
		}
		if out == nil {
			out = map[string][]byte{}
		}
		out[name] = val[:vs]
	}
	return out, true
}

// writeXattrs sets the portable attributes of xs on p; attributes that
// are not portable are never written, whatever a manifest says.
func writeXattrs(p string, xs map[string][]byte) error {
	for name, v := range xs {
		if !portableXattr(name) {
			continue
		}
		if err := unix.Lsetxattr(p, name, v, 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
				return nil // the target file system has none
			}
			return err
		}
	}
	return nil
}
