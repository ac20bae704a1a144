package engine

import (
	"runtime"
	"testing"
)

// TestLocalName: restore skips a name that is not one plain name on this
// system. A session made on Linux may hold `..\..\evil` or `a:b`, valid
// there (snapshot.ValidName); on Windows filepath.Join made the former a
// path outside the target and the latter an alternate data stream.
func TestLocalName(t *testing.T) {
	windows := runtime.GOOS == "windows"
	for _, tc := range []struct {
		name      string
		ok        bool // elsewhere
		okWindows bool
	}{
		{"file.txt", true, true},
		{".hidden", true, true},
		{"with space", true, true},
		{"ünïcödé", true, true},
		{"...", true, true},
		{"..\\..\\evil", true, false},
		{"..\\evil", true, false},
		{"a\\b", true, false},
		{"\\abs", true, false},
		{"C:evil", true, false},
		{"C:\\Windows", true, false},
		{"file:stream", true, false},
		{"NUL", true, false},
		{"..", false, false},
		{".", false, false},
		{"", false, false},
		{"a/b", false, false},
		{"/abs", false, false},
		{"../evil", false, false},
	} {
		want := tc.ok
		if windows {
			want = tc.okWindows
		}
		err := localName(tc.name)
		if (err == nil) != want {
			t.Errorf("localName(%q) = %v, want ok %v on %s", tc.name, err, want, runtime.GOOS)
		}
	}
}
