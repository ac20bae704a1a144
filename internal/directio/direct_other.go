//go:build !linux

package directio

import "os"

// Enable reports false: O_DIRECT is Linux's.
func Enable(f *os.File) bool { return false }

// Disable reports true: nothing to turn off.
func Disable(f *os.File) bool { return true }
