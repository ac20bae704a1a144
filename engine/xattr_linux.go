package engine

import (
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// readXattrs returns the extended attributes of path (not following links).
func readXattrs(path string) (xs []snapshot.Xattr) {
	inPath(path, func(p string) error { xs = readXattrsAt(p); return nil })
	return xs
}

func readXattrsAt(path string) []snapshot.Xattr {
	var buf [1024]byte
	n, err := unix.Llistxattr(path, buf[:])
	if err != nil || n <= 0 {
		if err == unix.ERANGE {
			big := make([]byte, 64<<10)
			if n, err = unix.Llistxattr(path, big); err != nil || n <= 0 {
				return nil
			}
			return readXattrValues(path, big[:n])
		}
		return nil
	}
	return readXattrValues(path, buf[:n])
}

func readXattrValues(path string, list []byte) []snapshot.Xattr {
	var out []snapshot.Xattr
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		sz, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, sz)
		if sz > 0 {
			if sz, err = unix.Lgetxattr(path, name, val); err != nil {
				continue
			}
		}
		out = append(out, snapshot.Xattr{Name: name, Value: val[:sz]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// writeXattrs sets extended attributes on path (not following links).
func writeXattrs(path string, xs []snapshot.Xattr) error {
	return inPath(path, func(p string) error {
		for _, x := range xs {
			if err := unix.Lsetxattr(p, x.Name, x.Value, 0); err != nil {
				return err
			}
		}
		return nil
	})
}
