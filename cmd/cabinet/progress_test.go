package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestProgressLines: off a terminal, a scan (its total not known yet)
// says how much it found, with no share: it showed "(100%)" all along,
// its bytes found passed as both done and total. Once the total is
// known, the line has the share.
func TestProgressLines(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		want, not   string
	}{
		{3 << 20, -1, "scanning: 12 files, 3.0 MiB found", "%"},
		{1 << 20, 4 << 20, "(25%)", "found"},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		saved := os.Stderr
		os.Stderr = w
		p := &progressView{every: 0}
		p.update("scanning: 12 files", tc.done, tc.total)
		os.Stderr = saved
		w.Close()
		out, _ := io.ReadAll(r)
		if line := string(out); !strings.Contains(line, tc.want) || strings.Contains(line, tc.not) {
			t.Errorf("update(%d, %d) printed %q, want %q without %q", tc.done, tc.total, line, tc.want, tc.not)
		}
	}
}
