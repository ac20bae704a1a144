//go:build linux && cgo && cgofuse

package integration

// Built with -tags cgofuse: mount with both adapters.
var mountAdapters = []string{"go-fuse", "cgofuse"}
