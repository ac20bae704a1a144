package fs_test

import (
	"testing"

	"github.com/cabinetbackup/cabinet/fs"
)

func TestMtimeSpec(t *testing.T) {
	for _, c := range []struct {
		mtime int64
		sec   int64
		nsec  uint32
	}{
		{0, 0, 0},
		{1_500_000_000, 1, 500_000_000},
		{-1, -1, 999_999_999},
		{-500_000_000, -1, 500_000_000},
		{-1_000_000_000, -1, 0},
		{-315_619_200_500_000_000, -315_619_201, 500_000_000}, // 1959-12-31 23:59:59.5
	} {
		sec, nsec := fs.Attr{Mtime: c.mtime}.MtimeSpec()
		if sec != c.sec || nsec != c.nsec {
			t.Errorf("MtimeSpec of %d = %d s %d ns, want %d s %d ns", c.mtime, sec, nsec, c.sec, c.nsec)
		}
	}
}
