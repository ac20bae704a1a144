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
