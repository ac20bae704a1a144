//go:build !windows

package persona

import (
	"io/fs"
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

// statOwner returns the owner (uid, gid) of a file's stat.
func statOwner(st fs.FileInfo) *[2]int {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return &[2]int{int(sys.Uid), int(sys.Gid)}
}

// undoOwner is the owner a root undo gives what it puts back in home:
// the home's owner, with the recorded group when the recorded user is
// that owner; nil when not root or the home is the caller's. An undo set
// is a file of the user's home: it must not make root hand a file to
// anyone else.
func undoOwner(home string, owner *[2]int) *fileOwner {
	o := homeOwner(home, os.Geteuid() == 0)
	if o != nil && owner != nil && owner[0] == o.uid {
		o = &fileOwner{uid: owner[0], gid: owner[1]}
	}
	return o
}

// lchownIn gives name in folder d the owner, not following a link.
func (o *fileOwner) lchownIn(d *os.Root, name string) {
	if o == nil {
		return
	}
	_ = d.Lchown(name, o.uid, o.gid)
}
