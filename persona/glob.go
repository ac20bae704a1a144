package persona

import "github.com/cabinetbackup/cabinet/internal/glob"

// globs are a rule's catalog globs, compiled once for the walk or the plan
// that tests every file against them.
type globs []glob.Pattern

// compileGlobs compiles catalog globs. A malformed glob (refused when a
// catalog is read) matches nothing.
func compileGlobs(list []string) globs {
	var gs globs
	for _, g := range list {
		if p, err := glob.Compile(g); err == nil {
			gs = append(gs, p)
		}
	}
	return gs
}

// matchInside reports whether the relative path name or one of its parent
// folders matches one of the globs, where "*", "?" and "[...]" work within
// one name, a "**" name matches any number of names, and a trailing "**"
// is what is inside a folder, not the folder itself
// (glob.Pattern.MatchInside): excluding "cache2" excludes everything
// inside it.
func (gs globs) matchInside(name string) bool {
	if len(gs) == 0 {
		return false
	}
	names := glob.Split(name)
	for i := range gs {
		if gs[i].MatchInside(names) {
			return true
		}
	}
	return false
}
