//go:build linux && cgo && cgofuse

package integration

// Built with -tags cgofuse: test the cgofuse adapter too, building a binary
// with the tag if the one under test lacks it.
const mountTagCgofuse = true
