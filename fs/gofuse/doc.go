//go:build linux || darwin

// Package gofuse mounts a cabinet fs.FS with go-fuse (Linux and macOS). It
// only translates: fs nodes become go-fuse inodes (numbered by fs, so hard
// links share one), fs errors become errno values in one function (errno),
// and panics become EIO. Caching follows MOUNT.md: one hour for entries,
// attributes and negative lookups inside sessions, about a second for the
// levels that change (Attr.Volatile); FOPEN_CACHE_DIR with READDIRPLUS
// served from the directory handle, leaving files out while walkers only
// read names (listingPolicy, Linux only: macFUSE sends no READDIRPLUS); FOPEN_KEEP_CACHE on files, whose data
// is returned without a copy.
package gofuse
