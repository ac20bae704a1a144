package fs_test

import (
	"testing"

	"github.com/cabinetbackup/cabinet/fs"
)

func TestWindowsNames(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain.txt", "plain.txt"},
		{`a<b>c:d"e\f|g?h*i`, "a＜b＞c：d＂e＼f｜g？h＊i"},
		{"tab\there", "tab␉here"},
		{"trailing ", "trailing␠"},
		{"trailing.", "trailing．"},
		{"already：fullwidth", "already‛：fullwidth"},
		{"a＝b", "a＝b"},
		{"‛", "‛‛"},
		{"mid . dot", "mid . dot"},
		// Bytes that are not UTF-8 map one to one (both were U+FFFD).
		{"a\xff", "a\uf7ff"},
		{"a\xfe", "a\uf7fe"},
		{"\xc3(", "\uf7c3("},
		{"a\ufffd", "a\ufffd"},
		{"a\uf7ff", "a‛\uf7ff"},
	} {
		got := fs.EncodeWindowsName(c.in)
		if got != c.want {
			t.Errorf("encode %q = %q, want %q", c.in, got, c.want)
		}
		if back := fs.DecodeWindowsName(got); back != c.in {
			t.Errorf("decode %q = %q, want %q", got, back, c.in)
		}
	}
}

// Every name survives the round trip, and two names never encode alike.
func FuzzWindowsNames(f *testing.F) {
	for _, s := range []string{"plain", "a\xff", "a:b", "‛", "x.", "a\uf7ff\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		enc := fs.EncodeWindowsName(name)
		if back := fs.DecodeWindowsName(enc); back != name {
			t.Fatalf("%q encodes to %q, which decodes to %q", name, enc, back)
		}
	})
}
