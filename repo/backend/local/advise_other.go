//go:build !linux

package local

import "os"

// adviseWillNeed does nothing where posix_fadvise is not at hand.
func adviseWillNeed(f *os.File, off, length int64) {}
