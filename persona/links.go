package persona

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// errLinkOutsideHome marks a path of the home that leads through a
// symbolic link out of the home: it is neither read nor written.
var errLinkOutsideHome = errors.New("symbolic link leads outside the home")

// insideDir reports whether p is dir or lies beneath it (both clean and absolute).
func insideDir(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	if err != nil || filepath.IsAbs(rel) {
		return false
	}
	return rel == "." || rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// realDir resolves the symbolic links of a folder path; the path itself
// when it cannot be resolved.
func realDir(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// checkHomeLinks checks, without following any of them, the components
// of p below home (p itself too when self): a symbolic link is accepted
// only when it resolves to a place inside the home (realHome is the home
// with its own links resolved). A path outside the home (a system file) is
// not checked. The first component that does not exist ends the check:
// whatever is created below it is a real folder. The check is repeated
// right before each write, and the write itself goes through a Root of the
// home (applier.openDir), so a folder swapped for a link in between does
// not send it out of the home either.
func checkHomeLinks(home, realHome, p string, self bool) error {
	home, p = filepath.Clean(home), filepath.Clean(p)
	if !insideDir(home, p) {
		return nil
	}
	rel, _ := filepath.Rel(home, p)
	if rel == "." {
		return nil
	}
	parts := strings.Split(rel, string(filepath.Separator))
	n := len(parts)
	if !self {
		n--
	}
	cur := home
	for i := 0; i < n; i++ {
		cur = filepath.Join(cur, parts[i])
		st, err := os.Lstat(cur)
		if err != nil {
			// Missing, or a file is in the way: what is created here is
			// real, and the write itself reports the problem.
			return nil
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := filepath.EvalSymlinks(cur)
		if err != nil {
			link, _ := os.Readlink(cur)
			return fmt.Errorf("%s is a symbolic link to %s that cannot be resolved: %w; not followed", cur, link, errLinkOutsideHome)
		}
		if !insideDir(realHome, target) {
			return fmt.Errorf("%s is a symbolic link to %s, outside the home %s: %w; not followed", cur, target, home, errLinkOutsideHome)
		}
	}
	return nil
}
