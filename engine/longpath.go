package engine

import "os"

// The os functions the scan and the restore call with paths that may be
// PATH_MAX long or more (see inPath).

func lstat(path string) (fi os.FileInfo, err error) {
	err = inPath(path, func(p string) error { fi, err = os.Lstat(p); return err })
	return fi, err
}

func mkdir(path string, perm os.FileMode) error {
	return inPath(path, func(p string) error { return os.Mkdir(p, perm) })
}

func remove(path string) error {
	return inPath(path, os.Remove)
}

func symlink(target, path string) error {
	return inPath(path, func(p string) error { return os.Symlink(target, p) })
}

func link(existing, path string) error {
	return inPath(existing, func(e string) error {
		return inPath(path, func(p string) error { return os.Link(e, p) })
	})
}

func readlink(path string) (target string, err error) {
	err = inPath(path, func(p string) error { target, err = os.Readlink(p); return err })
	return target, err
}
