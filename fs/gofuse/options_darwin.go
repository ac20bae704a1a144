package gofuse

// platformOptions for macFUSE (MOUNT.md §1): a volume name for Finder, no
// AppleDouble files or Apple xattrs, negative lookups cached by the VFS.
// Never "local": Spotlight would index the volume.
func platformOptions(o Options) []string {
	return []string{"volname=" + o.VolumeName, "noappledouble", "noapplexattr", "negative_vncache"}
}

// leanListings is off: macFUSE sends no READDIRPLUS, so a lean listing
// would only lose the kernel's listing cache.
const leanListings = false
