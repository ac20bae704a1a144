//go:build !linux

package engine

// markTop is a Linux (ext4) placement hint; see topdir_linux.go.
func markTop(string) bool { return false }

func unmarkTop(string) {}
