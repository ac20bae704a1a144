package engine

import (
	"path"
	"path/filepath"
	"strings"
)

// Match reports whether pattern selects the file at full (an absolute path).
// Patterns use path.Match syntax in each path component, plus "**" for
// any number of components, as restic's do. A pattern that starts with a
// separator is anchored at the root ("/home/*/.cache"); any other matches
// at any depth ("*.tmp", "node_modules", "src/**/*.go", "**/db.bin"). A
// pattern matches a path or any folder above it, so everything in a
// matching folder matches too.
func Match(pattern, full string) bool {
	pat, p := components(pattern), components(full)
	if pat[0] == "" { // anchored
		return matchFrom(pat, p)
	}
	for i := range p {
		if matchFrom(pat, p[i:]) {
			return true
		}
	}
	return false
}

// MayMatchBelow reports whether pattern may select paths inside the folder
// dir: a restore with --include walks into such a folder even when the
// folder itself is not selected. A pattern that is not anchored may match
// at any depth.
func MayMatchBelow(pattern, dir string) bool {
	pat, d := components(pattern), components(dir)
	if pat[0] != "" {
		return true
	}
	for len(pat) > 0 && len(d) > 0 {
		if pat[0] == "**" {
			return true
		}
		if ok, _ := path.Match(pat[0], d[0]); !ok {
			return false
		}
		pat, d = pat[1:], d[1:]
	}
	return true
}

// components splits a path or pattern at its separators ("/a/b" gives "",
// "a", "b"; "/" gives ""), without a trailing empty one.
func components(s string) []string {
	return strings.Split(strings.TrimSuffix(filepath.ToSlash(s), "/"), "/")
}

// matchFrom reports whether the pattern's components match the leading
// components of p (p itself or a folder above what p names).
func matchFrom(pat, p []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(p); i++ {
				if matchFrom(pat[1:], p[i:]) {
					return true
				}
			}
			return false
		}
		if len(p) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], p[0]); !ok {
			return false
		}
		pat, p = pat[1:], p[1:]
	}
	return true
}
