//go:build linux

package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewMountCacheSize: a --cache-size that is no size of memory is
// wrong usage (exit 2), before any repository is opened. 1e30 bytes
// overflowed to a negative size, which fs then replaced by its default
// without a word; NaN and Inf passed the "> 0" test as well.
func TestReviewMountCacheSize(t *testing.T) {
	mountRequire(t)
	e := newEnv(t)
	e.extraEnv = append(e.extraEnv, "CABINET_REPOSITORY="+filepath.Join(e.dir, "no-repository"))
	mp := filepath.Join(e.dir, "mnt")
	for _, size := range []string{"1e30", "1e30GiB", "NaN", "Inf", "0.1", "-5MiB", "0"} {
		r := e.run("mount", "--cache-size", size, mp)
		if r.code != 2 || !strings.Contains(r.stderr, "--cache-size") {
			t.Errorf("--cache-size %s: %s", size, r)
		}
	}
	// A sane size reaches the repository (none here: exit 10).
	if r := e.run("mount", "--cache-size", "64MiB", mp); r.code != 10 {
		t.Errorf("--cache-size 64MiB: %s", r)
	}
}
