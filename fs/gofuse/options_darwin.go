package gofuse

import "github.com/hanwen/go-fuse/v2/fuse"

// platformOptions for macFUSE (MOUNT.md §1): a volume name for Finder, no
// AppleDouble files or Apple xattrs, negative lookups cached by the VFS.
// Never "local": Spotlight would index the volume.
func platformOptions(o Options) []string {
	return []string{"volname=" + o.VolumeName, "noappledouble", "noapplexattr", "negative_vncache"}
}

// leanListings is off: macFUSE sends no READDIRPLUS, so a lean listing
// would only lose the kernel's listing cache.
const leanListings = false

// listingRequests leaves go-fuse's node file system as it is: macFUSE has
// no FUSE_NO_OPENDIR_SUPPORT (opendirless_linux.go).
func listingRequests(raw fuse.RawFileSystem, a *adapter) fuse.RawFileSystem { return raw }
