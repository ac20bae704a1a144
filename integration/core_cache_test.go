//go:build linux

package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCoreDamagedCache: the local cache (index and tree copies, register)
// is only a cache. Damage to it must never be reported as damage to the
// repository, nor stop a backup or restore.
func TestCoreDamagedCache(t *testing.T) {
	cases := []struct {
		name   string
		match  func(rel string) bool
		damage func(t *testing.T, p string)
	}{
		{"bit flipped tree cabinets", func(rel string) bool { return strings.Contains(rel, "/data/") },
			func(t *testing.T, p string) { coreFlipBit(t, p, int(coreFileSize(t, p)/2)) }},
		{"truncated tree cabinets", func(rel string) bool { return strings.Contains(rel, "/data/") },
			func(t *testing.T, p string) { coreTruncate(t, p, coreFileSize(t, p)/3) }},
		{"bit flipped index copies", func(rel string) bool { return strings.Contains(rel, "/index/") },
			func(t *testing.T, p string) { coreFlipBit(t, p, 40) }},
		{"garbage register", func(rel string) bool { return strings.Contains(rel, "register-") },
			func(t *testing.T, p string) { os.WriteFile(p, coreRandom(3, 64<<10), 0o600) }},
		{"truncated register", func(rel string) bool { return strings.Contains(rel, "register-") },
			func(t *testing.T, p string) { coreTruncate(t, p, 4096+100) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			src := filepath.Join(e.dir, "src")
			for i := range 30 {
				coreWrite(t, filepath.Join(src, "d", string(rune('a'+i%5)), "f"+itoa(int64(i))), coreRandom(int64(i), 1000*i), 0o644)
			}
			e.mustRun("backup", src)
			e.mustRun("restore", "--target", filepath.Join(e.dir, "warm"), "latest") // fills the tree cache
			n := 0
			filepath.WalkDir(e.cacheDir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && c.match(filepath.ToSlash(p)) {
					c.damage(t, p)
					n++
				}
				return nil
			})
			if n == 0 {
				t.Fatalf("no cache file to damage")
			}
			r := e.run("check")
			if r.code != 0 {
				t.Errorf("check blames the repository for a damaged cache: %s", r)
			}
			target := filepath.Join(e.dir, "restore")
			if r := e.run("restore", "--target", target, "latest"); r.code != 0 {
				t.Fatalf("restore with a damaged cache: %s", r)
			}
			coreDiff(t, src, coreRestored(target, src))
			coreWrite(t, filepath.Join(src, "new.txt"), []byte("new"), 0o644)
			if r := e.run("backup", src); r.code != 0 {
				t.Fatalf("backup with a damaged cache: %s", r)
			}
			e.mustCheck()
			target2 := filepath.Join(e.dir, "restore2")
			e.mustRun("restore", "--target", target2, "latest")
			coreDiff(t, src, coreRestored(target2, src))
		})
	}
}
