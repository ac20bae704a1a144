package engine

import (
	"fmt"
	"path/filepath"

	"github.com/cabinetbackup/cabinet/internal/glob"
)

// Match reports whether pattern selects the file at full (an absolute path).
// Patterns use path.Match syntax in each path component, plus "**" for
// any number of components, as restic's do. A pattern that starts with a
// separator is anchored at the root ("/home/*/.cache"); any other matches
// at any depth ("*.tmp", "node_modules", "src/**/*.go", "**/db.bin"). A
// pattern matches a path or any folder above it, so everything in a
// matching folder matches too. A malformed pattern matches nothing;
// Backup and Restore refuse one.
func Match(pattern, full string) bool {
	p, err := glob.Compile(filepath.ToSlash(pattern))
	return err == nil && p.Match(pathNames(full))
}

// pathNames splits a path at its separators ("/a/b" gives "", "a", "b").
func pathNames(s string) []string { return glob.Split(filepath.ToSlash(s)) }

// patterns are compiled patterns (see Match).
type patterns []glob.Pattern

// compilePatterns compiles the patterns of an option (kind names it in
// errors, as the command line does: "exclude").
func compilePatterns(kind string, list []string) (patterns, error) {
	ps := make(patterns, 0, len(list))
	for _, s := range list {
		p, err := glob.Compile(filepath.ToSlash(s))
		if err != nil {
			return nil, fmt.Errorf("%s %w", kind, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// index returns the index of the first pattern matching the path with
// these names (see Match), or -1.
func (ps patterns) index(names []string) int {
	for i, p := range ps {
		if p.Match(names) {
			return i
		}
	}
	return -1
}

// match reports whether a pattern matches the path with these names.
func (ps patterns) match(names []string) bool { return ps.index(names) >= 0 }

// mayMatchBelow reports whether a pattern may match paths inside the
// folder with these names.
func (ps patterns) mayMatchBelow(dir []string) bool {
	for _, p := range ps {
		if p.MayMatchBelow(dir) {
			return true
		}
	}
	return false
}

// folderExclusion tests the entries of one folder against the exclude
// patterns. The folder's path is tested once; each entry then only for a
// match that ends at its own name (glob.Pattern.MatchLast).
type folderExclusion struct {
	ps    patterns
	names []string // the folder's names, then the entry's name
	all   bool     // a pattern matches the folder: every entry is excluded
}

func newFolderExclusion(ps patterns, dir string) *folderExclusion {
	if len(ps) == 0 {
		return &folderExclusion{}
	}
	names := pathNames(dir)
	return &folderExclusion{ps: ps, names: append(names, ""), all: ps.match(names)}
}

// excludes reports whether the folder's entry name is excluded.
func (e *folderExclusion) excludes(name string) bool {
	if e.all {
		return true
	}
	if len(e.ps) == 0 {
		return false
	}
	e.names[len(e.names)-1] = name
	for _, p := range e.ps {
		if p.MatchLast(e.names) {
			return true
		}
	}
	return false
}
