// Package glob matches paths, as lists of names, against patterns:
// path.Match syntax within each name and "**" for any number of names.
// Backup and restore selection (engine) and persona catalogs share it.
//
// A pattern is split and checked once (Compile); matching then allocates
// nothing. Splitting every pattern and path for every file made a warm
// no-change backup of the benchmark corpus with ten --exclude patterns take
// 0.70 s instead of 0.30 s.
package glob

import (
	"fmt"
	"path"
	"strings"
)

// Pattern is a compiled pattern.
type Pattern struct {
	parts []string
	// anchored: the pattern began with "/" and matches from the first
	// name of a path only; any other may start at any name.
	anchored bool
	// fixed: no "**", so a match spans exactly len(parts) names
	fixed bool
}

// Compile splits a slash-separated pattern into names and checks each.
// A leading "/" anchors it; a trailing "/" is ignored. An empty pattern is
// refused: it would be the root and match everything (an --exclude of an
// unset shell variable backed up nothing).
func Compile(pattern string) (Pattern, error) {
	if pattern == "" {
		return Pattern{}, fmt.Errorf("%w: an empty pattern would match everything", path.ErrBadPattern)
	}
	p := Pattern{parts: Split(pattern)}
	p.anchored = p.parts[0] == ""
	p.fixed = true
	for _, part := range p.parts {
		if part == "**" {
			p.fixed = false
		}
		if _, err := path.Match(part, ""); err != nil {
			return Pattern{}, fmt.Errorf("pattern %q: %w", pattern, err)
		}
	}
	return p, nil
}

// Split splits a slash-separated path at its separators: "/a/b" gives "",
// "a", "b"; "a/b/" gives "a", "b"; "/" gives "".
func Split(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "/"), "/")
}

// Match reports whether p matches names or a folder above them: a run of
// names from some start (the first if p is anchored) to some end. So a
// pattern that selects a folder selects everything in it.
func (p Pattern) Match(names []string) bool {
	if p.anchored {
		return match(p.parts, names, true, false)
	}
	for i := firstName(names); i < len(names); i++ {
		if match(p.parts, names[i:], true, false) {
			return true
		}
	}
	return false
}

// MatchLast reports whether p matches a run of names from some start (the
// first if p is anchored) to the last name. It is Match for a path whose
// folder Match found unmatched: a walk that tests each folder before
// going in tests each entry with MatchLast.
func (p Pattern) MatchLast(names []string) bool {
	if p.anchored {
		return match(p.parts, names, false, false)
	}
	if p.fixed { // the one run that ends at the last name
		i := len(names) - len(p.parts)
		return i >= firstName(names) && match(p.parts, names[i:], false, false)
	}
	for i := firstName(names); i < len(names); i++ {
		if match(p.parts, names[i:], false, false) {
			return true
		}
	}
	return false
}

// firstName is where a pattern that is not anchored may start matching
// names: past the root's empty name, which "*" would match ("*/cache"
// is a folder, then cache, not /cache).
func firstName(names []string) int {
	if len(names) > 0 && names[0] == "" {
		return 1
	}
	return 0
}

// MayMatchBelow reports whether p may match paths inside the folder dir:
// a walk for included paths goes into such a folder even when p does not
// match the folder itself. A pattern that is not anchored may match at any
// depth.
func (p Pattern) MayMatchBelow(dir []string) bool {
	if !p.anchored {
		return true
	}
	pat := p.parts
	for len(pat) > 0 && len(dir) > 0 {
		if pat[0] == "**" {
			return true
		}
		if ok, _ := path.Match(pat[0], dir[0]); !ok {
			return false
		}
		pat, dir = pat[1:], dir[1:]
	}
	return true
}

// MatchInside reports whether p, taken as relative to a folder, matches
// the relative path names or a folder above it, where a trailing "**" is
// what is inside a folder and not the folder itself: "cache2/**" matches
// "cache2/x" and "cache2/x/y", not "cache2". Persona catalogs' globs mean
// this.
func (p Pattern) MatchInside(names []string) bool {
	return len(names) > 0 && match(p.parts, names, true, true)
}

// match reports whether pat matches all of names, or with prefix some
// leading run of one or more of them. A "**" matches any number of names;
// with inside, a trailing one matches one or more.
func match(pat, names []string, prefix, inside bool) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 && inside {
				return len(names) > 0
			}
			for i := 0; i <= len(names); i++ {
				if match(pat[1:], names[i:], prefix, inside) {
					return true
				}
			}
			return false
		}
		if len(names) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], names[0]); !ok {
			return false
		}
		pat, names = pat[1:], names[1:]
	}
	return prefix || len(names) == 0
}
