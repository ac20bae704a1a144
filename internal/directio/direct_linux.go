package directio

import (
	"os"

	"golang.org/x/sys/unix"
)

// Enable turns O_DIRECT on for f and reports whether it is on: false
// where the file system refuses it.
func Enable(f *os.File) bool { return setDirect(f, true) }

// Disable turns O_DIRECT off for f (after a write the file system
// refused) and reports whether it is off.
func Disable(f *os.File) bool { return setDirect(f, false) }

func setDirect(f *os.File, on bool) bool {
	fd := f.Fd()
	flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return false
	}
	want := flags &^ unix.O_DIRECT
	if on {
		want |= unix.O_DIRECT
	}
	if want != flags {
		if _, err := unix.FcntlInt(fd, unix.F_SETFL, want); err != nil {
			return false
		}
	}
	return true
}
