//go:build !linux || !(amd64 || arm64)

package engine

import "os"

// folder is a folder open for scanning, its entries stat'ed relative to it
// (os.Root: fstatat where there is one; a full path made the kernel walk
// every component again for every entry).
type folder struct {
	root *os.Root
}

// openFolder opens path through inPath, as the Linux scan does: a folder
// deeper than PATH_MAX (Linux on 386, arm, riscv64, ...) is opened, not
// skipped with a warning.
func openFolder(path string) (*folder, error) {
	var root *os.Root
	err := inPath(path, func(p string) (err error) {
		root, err = os.OpenRoot(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &folder{root: root}, nil
}

// names returns the folder's entries but "." and "..", in no order.
func (f *folder) names() ([]string, error) {
	d, err := f.root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// lstat returns the attributes of the entry name, not following a link.
func (f *folder) lstat(name string) (os.FileInfo, error) { return f.root.Lstat(name) }

func (f *folder) close() { f.root.Close() }
