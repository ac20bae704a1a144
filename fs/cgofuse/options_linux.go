//go:build linux && cgo && cgofuse

package cgofuse

import (
	"github.com/winfsp/cgofuse/fuse"

	"github.com/cabinetbackup/cabinet/fs"
)

// installHint says how to get libfuse when cgofuse cannot load it.
const installHint = "install libfuse 2 (apt-get install libfuse2, or libfuse-dev to build)"

// mountOptions for libfuse 2 (MOUNT.md §2): read-only, our inode numbers,
// kernel page cache kept, and timeouts that let a new session appear:
// the high-level API can neither set timeouts per node nor notify the
// kernel here, so entries and negative lookups live one second.
// Attributes may live long: sessions never change, and latest is a symlink
// whose target is read on every use.
func mountOptions(o Options) []string {
	opts := []string{"-o", "ro,fsname=cabinet,subtype=cabinet,use_ino,kernel_cache,max_readahead=131072," +
		"entry_timeout=1,negative_timeout=1,attr_timeout=3600"}
	if o.Debug {
		opts = append(opts, "-d")
	}
	return opts
}

// caseInsensitive: Linux names are case-sensitive.
const caseInsensitive = false

func encodeName(name string) string { return name }
func decodeName(name string) string { return name }

// notifyChanges does nothing on Linux: cgofuse's Notify is a no-op there;
// new sessions appear through the one-second entry timeouts.
func notifyChanges(*fuse.FileSystemHost, *fs.FS, <-chan struct{}) {}
