//go:build !windows

package persona

import (
	"os"
	"syscall"
)

// fileOwner is the owner given to written files when root applies a
// persona to another user's home: the owner of that home.
type fileOwner struct{ uid, gid int }

// homeOwner returns the home's owner when running as root and the home
// belongs to someone else; nil otherwise (files keep the caller's owner).
func homeOwner(home string, root bool) *fileOwner {
	if !root {
		return nil
	}
	st, err := os.Stat(home)
	if err != nil {
		return nil
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int(sys.Uid) == os.Geteuid() {
		return nil
	}
	return &fileOwner{uid: int(sys.Uid), gid: int(sys.Gid)}
}

func (o *fileOwner) chown(p string) {
	if o == nil {
		return
	}
	_ = os.Lchown(p, o.uid, o.gid)
}

// chownFile gives an open file the owner.
func (o *fileOwner) chownFile(f *os.File) {
	if o == nil {
		return
	}
	_ = f.Chown(o.uid, o.gid)
}
