//go:build windows || (linux && cgo && cgofuse)

// Package cgofuse mounts a cabinet fs.FS with cgofuse: WinFsp on Windows
// (the default there; it builds without cgo and loads winfsp-x64.dll at
// run time), libfuse 2 on Linux with cgo and the cgofuse build tag, where
// the same tests as go-fuse run it on real mounts.
//
// cgofuse is path based: paths are resolved from the root through fs
// lookups, and nodes inside sessions are cached by path (they never
// change). It only translates; errors map to errno values in one function
// (errno), panics become EIO.
package cgofuse
