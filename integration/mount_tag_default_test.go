//go:build linux && !(cgo && cgofuse)

package integration

// Without -tags cgofuse, cgofuse is tested only if the binary has it.
const mountTagCgofuse = false
