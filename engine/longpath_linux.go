package engine

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// inPath runs fn with a name for path that system calls take. A path of
// PATH_MAX bytes (4096) or more gets ENAMETOOLONG from every one of them,
// though file systems hold deeper trees: restic and borg skip such files
// with a warning, and a restore into a target folder can make paths that
// long from ones that were shorter when they were backed up. For such a
// path, fn gets /proc/self/fd/N/NAME instead, where N is the path's
// folder, opened in steps shorter than PATH_MAX relative to each other;
// the kernel looks the short name up from there. Errors name path, not
// that alias. Shorter paths, nearly all, go to fn unchanged.
func inPath(path string, fn func(string) error) error {
	if len(path) < unix.PathMax {
		return fn(path)
	}
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return fn(path) // one name that long: no file system holds one, the kernel says so
	}
	fd, err := openInSteps(path[:i])
	if err != nil {
		return &os.PathError{Op: "open", Path: path[:i], Err: err}
	}
	defer unix.Close(fd)
	alias := "/proc/self/fd/" + strconv.Itoa(fd) + "/" + path[i+1:]
	return renamePath(fn(alias), alias, path)
}

// openInSteps opens folder dir (O_PATH: only to look names up from) in
// pieces shorter than PATH_MAX, each relative to the folder before.
func openInSteps(dir string) (int, error) {
	fd := unix.AT_FDCWD
	for {
		piece, rest := dir, ""
		if len(dir) >= unix.PathMax {
			i := strings.LastIndexByte(dir[:unix.PathMax-1], '/')
			if i <= 0 {
				return -1, unix.ENAMETOOLONG // a single name that long: no file system holds one
			}
			piece, rest = dir[:i], dir[i+1:]
		}
		next, err := retryEINTR(func() (int, error) {
			return unix.Openat(fd, piece, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		if fd != unix.AT_FDCWD {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		if fd = next; rest == "" {
			return fd, nil
		}
		dir = rest
	}
}

// renamePath puts path in place of alias in the errors of the os package.
func renamePath(err error, alias, path string) error {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe) && pe.Path == alias:
		pe.Path = path
	case errors.As(err, &le):
		if le.Old == alias {
			le.Old = path
		}
		if le.New == alias {
			le.New = path
		}
	}
	return err
}
