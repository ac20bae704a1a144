package persona

import "github.com/cabinetbackup/cabinet/internal/glob"

// matchAny reports whether the relative path name or one of its parent
// folders matches one of the globs, where "*", "?" and "[...]" work within
// one name, a "**" name matches any number of names, and a trailing "**"
// is what is inside a folder, not the folder itself
// (glob.Pattern.MatchInside): excluding "cache2" excludes everything
// inside it. A malformed glob (refused when a catalog is read) matches
// nothing.
func matchAny(globs []string, name string) bool {
	names := glob.Split(name)
	for _, g := range globs {
		if p, err := glob.Compile(g); err == nil && p.MatchInside(names) {
			return true
		}
	}
	return false
}
