//go:build !linux

package engine

import "os"

// prefetchFiles is 0 where posix_fadvise is not at hand: readers read
// each file when they get to it.
const prefetchFiles = 0

func prefetchFile(path string, size int64) *os.File { return nil }

func prefetchSource(path string, size int64, inode uint64, top string) *os.File { return nil }

// noSymlinkBelow checks nothing where openat2 is not at hand.
func noSymlinkBelow(top, path string, dev, ino uint64) error { return nil }

func adviseSequential(fh *os.File) {}

// ReadsAhead reports whether processing has the kernel read small files
// ahead of their readers, so that readers seldom block in read(2).
const ReadsAhead = false

func adviseWillNeed(fh *os.File, off, n int64) {}
