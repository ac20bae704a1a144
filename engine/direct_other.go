//go:build !linux

package engine

import "os"

// openDirect opens an existing file for writing; O_DIRECT is Linux's.
func openDirect(path string) (fh *os.File, direct bool, err error) {
	fh, err = openFile(path, os.O_WRONLY, 0)
	return fh, false, err
}

func dropDirect(fh *os.File) bool { return false }
