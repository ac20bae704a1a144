//go:build linux

package persona

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKilledApplyTemporaryFileRemoved: an apply killed between writing a
// file's temporary copy and renaming it over the file left the copy in the
// user's folder for good (a random name nothing came back to). The next
// apply of the file removes it, and so does the undo of the killed apply.
func TestKilledApplyTemporaryFileRemoved(t *testing.T) {
	staging, home := capturedPersona(t)
	writeFile(t, filepath.Join(home, ".bashrc"), "mine\n", 0o644)
	before := fullTree(t, home)
	leftovers := []string{filepath.Join(home, tempName(".bashrc")), filepath.Join(home, ".ssh", tempName("id_rsa"))}
	killedApply := func() {
		for _, p := range leftovers {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, "half of it", 0o600)
		}
	}
	checkGone := func(when string) {
		t.Helper()
		for _, p := range leftovers {
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: %s is still there (%v)", when, p, err)
			}
		}
	}
	killedApply()
	if _, err := Apply(context.Background(), applyTo(staging, home, nil)); err != nil {
		t.Fatal(err)
	}
	checkGone("after the next apply")
	killedApply() // the second apply's writes were killed this time
	undoHomeSet(t, home)
	checkGone("after undo")
	os.Remove(filepath.Join(home, ".ssh")) // made by the test's killed apply, not journaled
	if d := diffTrees(before, fullTree(t, home)); d != "" {
		t.Errorf("undo did not put the home back:\n%s", d)
	}
}

func TestTempName(t *testing.T) {
	tests := []struct{ base, want string }{
		{".bashrc", "..bashrc.cabinet-tmp"},
		{"config", ".config.cabinet-tmp"},
		{strings.Repeat("x", 255), ".cabinet-tmp-"},
	}
	for _, tt := range tests {
		got := tempName(tt.base)
		if !strings.HasPrefix(got, tt.want) || len(got) > 255 {
			t.Errorf("tempName(%.20q) = %q, want %q...", tt.base, got, tt.want)
		}
		if got != tempName(tt.base) {
			t.Errorf("tempName(%.20q) is not the same every time", tt.base)
		}
	}
}
