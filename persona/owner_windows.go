package persona

import "os"

// fileOwner is a no-op on Windows: files written into a profile inherit
// the profile folder's ACL.
type fileOwner struct{}

func homeOwner(home string, root bool) *fileOwner { return nil }

func (o *fileOwner) chown(p string) {}

func (o *fileOwner) chownFile(f *os.File) {}
