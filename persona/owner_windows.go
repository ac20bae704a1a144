package persona

import (
	"io/fs"
	"os"
)

// fileOwner is a no-op on Windows: files written into a profile inherit
// the profile folder's ACL.
type fileOwner struct{}

func homeOwner(home string, root bool) *fileOwner { return nil }

func (o *fileOwner) chown(p string) {}

func (o *fileOwner) chownFile(f *os.File) {}

// statOwner: owners are ACLs on Windows, not recorded.
func statOwner(st fs.FileInfo) *[2]int { return nil }

func undoOwner(home string, owner *[2]int) *fileOwner { return nil }

func (o *fileOwner) lchownIn(d *os.Root, name string) {}
