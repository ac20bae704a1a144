package glob

import (
	"errors"
	"math/rand/v2"
	"path"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"*.tmp", "/home/ann/x.tmp", true},
		{"*.tmp", "/home/ann/x.txt", false},
		{"node_modules", "/src/app/node_modules/a/b.js", true},
		{"/home/*/.cache", "/home/ann/.cache/x/y", true},
		{"/home/*/.cache", "/home/ann/cache", false},
		{"/home/ann", "/home/ann", true},
		{"/home/ann/", "/home/ann/docs/a", true},
		{"/srv", "/home/srv", false},
		{"ann/docs", "/home/ann/docs/a", true},
		{"ann/music", "/home/ann/docs/a", false},
		{"**/db.bin", "/var/lib/app/db.bin", true},
		{"/var/*/db.bin", "/var/lib/app/db.bin", false},
		{"/var/**/db.bin", "/var/lib/app/db.bin", true},
		{"/var/**/db.bin", "/var/db.bin", true},
		{"/var/**", "/var", true},
		{"src/**/*.go", "/home/ann/src/cmd/x/main.go", true},
		{"src/**/*.go", "/home/ann/src/main.c", false},
		{"/", "/anything", true},
		{"C:/Users/*/AppData", "C:/Users/ann/AppData/x", true},
		// A pattern that is not anchored starts at a name, never at the
		// root: "*/cache" is a folder, then cache.
		{"*/cache", "/cache/x", false},
		{"*/cache", "/var/cache/x", true},
		{"*/tmp", "/tmp", false},
		{"*", "/", false},
		{"**/cache", "/cache", true},
	} {
		p, err := Compile(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(Split(tc.path)); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

// MatchInside is persona's: relative globs, a trailing "**" for what is
// inside a folder.
func TestMatchInside(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*/prefs.js", "abc.default/prefs.js", true},
		{"*/prefs.js", "prefs.js", false},
		{"*/prefs.js", "a/b/prefs.js", false},
		{"**/prefs.js", "a/b/prefs.js", true},
		{"**/prefs.js", "prefs.js", true},
		{"*/**", "gtk-3.0", false},
		{"*/**", "gtk-3.0/bookmarks", true},
		{"cache2/**", "cache2", false},
		{"cache2/**", "cache2/x/y", true},
		{"*/cache2", "abc/cache2/entries/x", true},
		{"**", "x", true},
		{"x", "", false},
	} {
		if got := MustCompile(tc.pattern).MatchInside(Split(tc.name)); got != tc.want {
			t.Errorf("MatchInside(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestMayMatchBelow(t *testing.T) {
	for _, tc := range []struct {
		pattern, dir string
		want         bool
	}{
		{"/home/*/Documents", "/home", true},
		{"/home/*/Documents", "/home/ann", true},
		{"/home/*/Documents", "/srv", false},
		{"/home/*/Documents", "/home/ann/Music", false},
		{"/home/**/x", "/home/ann/a/b", true},
		{"*.tmp", "/srv/a", true},
	} {
		if got := MustCompile(tc.pattern).MayMatchBelow(Split(tc.dir)); got != tc.want {
			t.Errorf("MayMatchBelow(%q, %q) = %v, want %v", tc.pattern, tc.dir, got, tc.want)
		}
	}
}

func TestCompileRefusesMalformed(t *testing.T) {
	if _, err := Compile(""); !errors.Is(err, path.ErrBadPattern) {
		t.Errorf(`Compile(""): %v, want ErrBadPattern (an empty pattern would match everything)`, err)
	}
	for _, s := range []string{"[", "a/[b", "**/x[", `a\`} {
		if _, err := Compile(s); !errors.Is(err, path.ErrBadPattern) || !strings.Contains(err.Error(), s) {
			t.Errorf("Compile(%q): %v, want ErrBadPattern naming the pattern", s, err)
		}
	}
}

// A walk tests a folder with Match and, if that fails, its entries with
// MatchLast: for any pattern and path the two must say what Match says of
// the entry.
func TestMatchLastAfterFolder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	names := []string{"a", "b", "ab", "x.go", "y.tmp"}
	parts := []string{"a", "b", "*", "a*", "*.go", "?", "**", "[ab]"}
	for range 20000 {
		var pat []string
		for range 1 + rnd.IntN(4) {
			pat = append(pat, parts[rnd.IntN(len(parts))])
		}
		pattern := strings.Join(pat, "/")
		if rnd.IntN(2) == 0 {
			pattern = "/" + pattern
		}
		p := MustCompile(pattern)
		entry := []string{""}
		for range 1 + rnd.IntN(5) {
			entry = append(entry, names[rnd.IntN(len(names))])
		}
		folder := entry[:len(entry)-1]
		want := p.Match(entry)
		if got := p.Match(folder) || p.MatchLast(entry); got != want {
			t.Fatalf("pattern %q, path %q: folder or last %v, Match %v", pattern, strings.Join(entry, "/"), got, want)
		}
	}
}

// Matching allocates nothing once the pattern is compiled.
func TestMatchAllocs(t *testing.T) {
	p := MustCompile("src/**/*.go")
	names := Split("/home/ann/src/cmd/x/main.go")
	if n := testing.AllocsPerRun(100, func() { p.Match(names); p.MatchLast(names) }); n != 0 {
		t.Errorf("%v allocations a match", n)
	}
}

// MustCompile is Compile for patterns the tests know to be valid.
func MustCompile(pattern string) Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return p
}
