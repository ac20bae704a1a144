//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCoreIncremental: an unchanged tree is not read again, one changed
// file is the only one read, and a lost register (cache) costs only speed.
func TestCoreIncremental(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	sizes := map[string]int{
		"a/small.txt":    100,
		"a/medium.bin":   200 << 10,
		"b/large.bin":    5<<20 + 17,
		"b/c/empty":      0,
		"b/c/other.bin":  1 << 20,
		"top-level-file": 4096,
	}
	var seed int64
	var total int64
	for p, n := range sizes {
		seed++
		coreWrite(t, filepath.Join(src, p), coreRandom(seed, n), 0o644)
		total += int64(n)
	}
	nfiles := int64(len(sizes))

	s1, _ := coreBackup(t, e, 0, src)
	if s1.Summary.FilesNew != nfiles || s1.Summary.BytesRead != total {
		t.Fatalf("first backup: want %d new files and %d bytes read, got %+v", nfiles, total, s1.Summary)
	}

	s2, _ := coreBackup(t, e, 0, src)
	if s2.Summary.BytesRead != 0 || s2.Summary.FilesUnchanged != nfiles || s2.Summary.FilesNew != 0 || s2.Summary.FilesChanged != 0 {
		t.Fatalf("unchanged tree: want 0 bytes read and %d unchanged files, got %+v", nfiles, s2.Summary)
	}
	if s2.Summary.BytesAdded > 64<<10 {
		t.Errorf("unchanged tree added %d bytes (only trees and metadata expected)", s2.Summary.BytesAdded)
	}
	if s2.Parent != s1.ID {
		t.Errorf("second session's parent is %q, want %q", s2.Parent, s1.ID)
	}

	// Change one file (new content, new size) and touch nothing else.
	changed := filepath.Join(src, "b/c/other.bin")
	newData := coreRandom(99, 300<<10+5)
	if err := os.WriteFile(changed, newData, 0o644); err != nil {
		t.Fatal(err)
	}
	s3, _ := coreBackup(t, e, 0, src)
	if s3.Summary.FilesChanged != 1 || s3.Summary.BytesRead != int64(len(newData)) || s3.Summary.FilesUnchanged != nfiles-1 || s3.Summary.FilesNew != 0 {
		t.Fatalf("one changed file of %d bytes: want files_changed 1, bytes_read %d, files_unchanged %d; got %+v",
			len(newData), len(newData), nfiles-1, s3.Summary)
	}
	total += int64(len(newData)) - int64(sizes["b/c/other.bin"])

	// Same size, new content and mtime: still noticed.
	same := filepath.Join(src, "a/medium.bin")
	data := coreRandom(100, 200<<10)
	if err := os.WriteFile(same, data, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1_500_000_000, 0)
	os.Chtimes(same, old, old)
	s4, _ := coreBackup(t, e, 0, src)
	if s4.Summary.FilesChanged != 1 || s4.Summary.BytesRead != int64(len(data)) {
		t.Fatalf("same-size change with an older mtime: want files_changed 1, bytes_read %d; got %+v", len(data), s4.Summary)
	}

	// Losing the cache (and the register in it) means reading everything again.
	if err := os.RemoveAll(e.cacheDir); err != nil {
		t.Fatal(err)
	}
	s5, _ := coreBackup(t, e, 0, src)
	if s5.Summary.BytesRead != total || s5.Summary.FilesUnchanged != 0 {
		t.Fatalf("after deleting the cache: want all %d bytes read again, got %+v", total, s5.Summary)
	}
	if s5.Summary.BytesAdded > 64<<10 {
		t.Errorf("after deleting the cache the backup added %d bytes: the data was already stored", s5.Summary.BytesAdded)
	}
	e.mustCheck()
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))

	// And the register works again from there on.
	s6, _ := coreBackup(t, e, 0, src)
	if s6.Summary.BytesRead != 0 || s6.Summary.FilesUnchanged != nfiles {
		t.Fatalf("backup after the rebuilt register: want 0 bytes read, got %+v", s6.Summary)
	}
}

// TestCoreDedup: a file that is another file shifted by 777 bytes stores
// only a small fraction of new data.
func TestCoreDedup(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	big := coreRandom(42, 100<<20)
	coreWrite(t, filepath.Join(src, "one.bin"), big, 0o644)
	s1, _ := coreBackup(t, e, 0, src)
	if s1.Summary.BytesAdded < 95<<20 {
		t.Fatalf("100 MiB of random data added only %d bytes", s1.Summary.BytesAdded)
	}

	shifted := append(coreRandom(7, 777), big...)
	big = nil
	coreWrite(t, filepath.Join(src, "two.bin"), shifted, 0o644)
	s2, _ := coreBackup(t, e, 0, src)
	t.Logf("second backup: %+v", s2.Summary)
	if s2.Summary.BytesRead != int64(len(shifted)) || s2.Summary.FilesNew != 1 || s2.Summary.FilesUnchanged != 1 {
		t.Errorf("second backup should read only two.bin: %+v", s2.Summary)
	}
	if limit := int64(100<<20) / 10; s2.Summary.BytesAdded >= limit {
		t.Fatalf("shifted copy added %d bytes, want < %d (10%% of 100 MiB)", s2.Summary.BytesAdded, limit)
	}
	e.mustRun("check")
}
