//go:build !linux

package engine

import "os"

// markTopDir is ext4's allocation hint (see topdir_linux.go): nothing to
// do elsewhere.
func markTopDir(path string) bool { return false }

func clearTopDir(path string) {}

func mkdirSpread(path string, perm os.FileMode) error { return mkdir(path, perm) }
