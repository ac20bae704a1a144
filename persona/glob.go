package persona

import (
	"path"
	"strings"
)

// matchGlob matches a slash-separated relative path against a glob where
// "*", "?" and "[...]" work within one name (path.Match) and a "**"
// component matches any number of names, including none.
func matchGlob(pattern, name string) bool {
	return matchParts(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchParts(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return len(name) > 0 // a trailing "**" is everything inside, not the folder itself
			}
			for i := 0; i <= len(name); i++ {
				if matchParts(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		ok, err := path.Match(pat[0], name[0])
		if err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// matchAny reports whether name or one of its parent folders matches one
// of the globs: excluding "cache2" excludes everything inside it.
func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if matchGlob(g, name) {
			return true
		}
		for p := name; ; {
			i := strings.LastIndex(p, "/")
			if i < 0 {
				break
			}
			p = p[:i]
			if matchGlob(g, p) {
				return true
			}
		}
	}
	return false
}
