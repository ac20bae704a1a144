package engine

import (
	"path"
	"path/filepath"
	"strings"
)

// Match reports whether pattern selects the file at full (an absolute path).
// A pattern without a separator matches any path component ("*.tmp",
// "node_modules"); a pattern with one matches the path or any folder above
// it ("/home/ann/Downloads", "/home/*/.cache"). Patterns use path.Match syntax.
func Match(pattern, full string) bool {
	full = filepath.ToSlash(full)
	pattern = filepath.ToSlash(pattern)
	if !strings.Contains(pattern, "/") {
		for _, c := range strings.Split(full, "/") {
			if ok, _ := path.Match(pattern, c); ok {
				return true
			}
		}
		return false
	}
	pattern = strings.TrimSuffix(pattern, "/")
	for p := full; ; {
		if ok, _ := path.Match(pattern, p); ok {
			return true
		}
		parent := path.Dir(p)
		if parent == p || parent == "." {
			return false
		}
		p = parent
	}
}
