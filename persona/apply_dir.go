package persona

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// homeDirs opens the folders that hold what apply and undo change: see
// open.
type homeDirs struct {
	home, realHome string   // the home, and with its own links resolved
	root           *os.Root // realHome, once open needs it
}

// open opens folder dir, which holds a file apply or undo replaces or
// changes, as an os.Root: the undo copy of what is there, the temporary
// file, its rename into place and a chmod then go by name inside that
// folder. A folder of the home is opened through a Root of the home from
// its real path (its links resolved, which must stay in the home), so a
// folder on the way swapped for a link out of the home after the check
// cannot send a write there: a Root follows no link that leaves it, nor
// any absolute one, and once open the folder is held, whatever its path
// becomes. Outside the home (a system file) dir is opened by its path.
func (h *homeDirs) open(dir string) (*os.Root, error) {
	dir = filepath.Clean(dir)
	if !insideDir(filepath.Clean(h.home), dir) {
		return os.OpenRoot(dir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	if !insideDir(h.realHome, real) {
		return nil, fmt.Errorf("%s leads to %s, outside the home %s: %w; not followed", dir, real, h.home, errLinkOutsideHome)
	}
	rel, err := filepath.Rel(h.realHome, real)
	if err != nil {
		return nil, err
	}
	if h.root == nil {
		if h.root, err = os.OpenRoot(h.realHome); err != nil {
			return nil, err
		}
	}
	beforeOpenDir(dir)
	d, err := h.root.OpenRoot(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%s changed on the way to it (a folder replaced by a symbolic link?): %v: %w; not followed", dir, err, errLinkOutsideHome)
	}
	return d, err
}

// beforeOpenDir runs between open's check of a folder's real path and
// its open: tests swap a folder for a link there.
var beforeOpenDir = func(dir string) {}

// close closes the Root of the home open opened, if any.
func (h *homeDirs) close() {
	if h.root != nil {
		h.root.Close()
		h.root = nil
	}
}

// openDir is dirs.open: see homeDirs.
func (a *applier) openDir(dir string) (*os.Root, error) { return a.dirs.open(dir) }

// createTemp creates dst's temporary file in dir, for writing: the file
// apply writes before it renames it to dst's name, base.
func createTemp(dir *os.Root, base string) (*os.File, string, error) {
	name := tempName(base)
	if err := dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("remove the temporary file %s left by an earlier apply: %w", filepath.Join(dir.Name(), name), err)
	}
	f, err := dir.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	return f, name, err
}

// tempName is the temporary name of a file named base, the same every
// time: one left behind by an apply that was killed before its rename is
// removed by the next apply of the file, or by the undo of that apply.
func tempName(base string) string {
	name := "." + base + ".cabinet-tmp"
	if len(name) > 255 { // longer than most file systems take
		sum := sha256.Sum256([]byte(base))
		name = ".cabinet-tmp-" + hex.EncodeToString(sum[:8])
	}
	return name
}
