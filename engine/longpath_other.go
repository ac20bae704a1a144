//go:build !linux

package engine

// inPath runs fn with path. Only on Linux are paths of PATH_MAX bytes or
// more reached in steps (longpath_linux.go); Windows's os package handles
// long paths itself.
func inPath(path string, fn func(string) error) error { return fn(path) }
