package fstest

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Names in the tree MakeSource writes.
const (
	BigFile    = "big.bin"     // several MiB of seeded random bytes
	HardLinkA  = "docs/a.txt"  // hard-linked with HardLinkB
	HardLinkB  = "docs/b.txt"  //
	LinkName   = "docs/link"   // symlink to "a.txt"
	ManyDir    = "many"        // ManyCount small files
	ManyCount  = 1000          //
	RealProbe  = "desktop.ini" // backed-up data that looks like a probe
	EmptyFile  = "empty"       //
	DamageFile = "damaged.bin" // unique content, for Corrupt
	OldFile    = "old.txt"     // modified before 1970, at a fraction of a second
)

// MakeSource writes a tree with the cases the mount must get right: a big
// file of many slices, a hard link pair, a symlink, an empty file, a
// folder of many entries, odd names, a real desktop.ini, a setuid file, a
// file of unique content (DamageFile), a file of mode 000 and (as root)
// one owned by 1234:5678, a path longer than 260 characters, and a file
// modified before 1970 (OldFile). Times are fixed; the contents are seeded
// by seed.
func MakeSource(t testing.TB, dir string, seed int64, bigSize int) {
	t.Helper()
	rnd := rand.New(rand.NewSource(seed))
	write := func(name string, data []byte, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		rnd.Read(b)
		return b
	}
	write(BigFile, random(bigSize), 0o644)
	write(HardLinkA, []byte("hard linked\n"), 0o640)
	if err := os.Link(filepath.Join(dir, "docs", "a.txt"), filepath.Join(dir, "docs", "b.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "docs", "link")); err != nil {
		t.Fatal(err)
	}
	write(EmptyFile, nil, 0o600)
	write(RealProbe, []byte("[.ShellClassInfo]\n"), 0o644)
	write("odd names/with space ü €.txt", []byte("odd\n"), 0o644)
	write("odd names/-dash", []byte("dash\n"), 0o755)
	write("tool", []byte("#!/bin/sh\n"), 0o4755)
	long := strings.Repeat("l", 120)
	write("deep/"+long+"/"+long+"/"+long+"/file.txt", []byte("past 260 characters\n"), 0o644)
	write(DamageFile, random(200<<10), 0o644)
	write("noperm", []byte("mode 000\n"), 0)
	write(OldFile, []byte("1959\n"), 0o644)
	if os.Geteuid() == 0 {
		write("owned", []byte("uid 1234\n"), 0o640)
		if err := os.Lchown(filepath.Join(dir, "owned"), 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < ManyCount; i++ {
		write(fmt.Sprintf("%s/f%05d", ManyDir, i), []byte(fmt.Sprintf("file %d\n", i)), 0o644)
	}
	for i := 0; i < 8; i++ {
		write(fmt.Sprintf("parallel/p%d.bin", i), random(1<<20+i*4099), 0o644)
	}
	// Fixed times, directories last so writing into them does not change them.
	when := time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink == 0 && !fi.IsDir() {
			os.Chtimes(p, when, when)
		}
		return nil
	})
	old := time.Date(1959, 12, 31, 23, 59, 59, 500_000_000, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, OldFile), old, old); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			os.Chtimes(p, when, when)
		}
		return nil
	})
}

// LargeDir holds LargeCount small files (MakeLargeFolder): more than one
// part of a gofuse listing (4,096 entries).
const (
	LargeDir   = "large"
	LargeCount = 4500
)

// MakeLargeFolder writes LargeDir under dir: files f00000 to f04499, each
// saying "file <n>\n".
func MakeLargeFolder(t testing.TB, dir string) {
	t.Helper()
	large := filepath.Join(dir, LargeDir)
	if err := os.MkdirAll(large, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range LargeCount {
		if err := os.WriteFile(filepath.Join(large, fmt.Sprintf("f%05d", i)), fmt.Appendf(nil, "file %d\n", i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
