//go:build linux && !(cgo && cgofuse)

package integration

// Without -tags cgofuse only go-fuse is built in.
var mountAdapters = []string{"go-fuse"}
