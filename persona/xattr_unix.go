//go:build linux || darwin

package persona

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readXattrs returns the portable extended attributes of p (not following
// links); ok is false when the file system does not support them.
func readXattrs(p string) (map[string][]byte, bool) {
	return readXattrsWith(xattrCalls{
		list: func(b []byte) (int, error) { return unix.Llistxattr(p, b) },
		get:  func(n string, b []byte) (int, error) { return unix.Lgetxattr(p, n, b) },
	})
}

// readFileXattrs is readXattrs of an open file.
func readFileXattrs(f *os.File) (map[string][]byte, bool) {
	fd := int(f.Fd())
	return readXattrsWith(xattrCalls{
		list: func(b []byte) (int, error) { return unix.Flistxattr(fd, b) },
		get:  func(n string, b []byte) (int, error) { return unix.Fgetxattr(fd, n, b) },
	})
}

// xattrCalls list and get the attributes of one file, by path or by
// descriptor.
type xattrCalls struct {
	list func(buf []byte) (int, error)
	get  func(name string, buf []byte) (int, error)
	set  func(name string, v []byte) error
}

func readXattrsWith(c xattrCalls) (map[string][]byte, bool) {
	sz, err := c.list(nil)
	if err != nil {
		return nil, !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EOPNOTSUPP)
	}
	if sz == 0 {
		return nil, true
	}
	buf := make([]byte, sz)
	n, err := c.list(buf)
	if err != nil {
		return nil, false
	}
	var out map[string][]byte
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if !portableXattr(name) {
			continue
		}
		vs, err := c.get(name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vs)
		if vs > 0 {
			if vs, err = c.get(name, val); err != nil {
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
	return writeXattrsWith(xattrCalls{set: func(n string, v []byte) error { return unix.Lsetxattr(p, n, v, 0) }}, xs)
}

// writeFileXattrs is writeXattrs on an open file.
func writeFileXattrs(f *os.File, xs map[string][]byte) error {
	fd := int(f.Fd())
	return writeXattrsWith(xattrCalls{set: func(n string, v []byte) error { return unix.Fsetxattr(fd, n, v, 0) }}, xs)
}

func writeXattrsWith(c xattrCalls, xs map[string][]byte) error {
	for name, v := range xs {
		if !portableXattr(name) {
			continue
		}
		if err := c.set(name, v); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
				return nil // the target file system has none
			}
			return err
		}
	}
	return nil
}
