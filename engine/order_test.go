package engine

import (
	"strings"
	"testing"
	"time"
)

// The processing queue: priority patterns first, then the most recent
// change date, then folder by folder, name by name.
func TestSortPendingOrder(t *testing.T) {
	day := func(d, h int) int64 {
		return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC).UnixNano()
	}
	docs := &dirNode{path: "/home/ann/docs"}
	src := &dirNode{path: "/home/ann/src"}
	srcSub := &dirNode{path: "/home/ann/src/sub"}
	file := func(d *dirNode, name string, mtime int64) *fileNode {
		return &fileNode{dir: d, meta: fileMeta{Name: name, ModTime: mtime}}
	}
	b := &backupRun{o: BackupOptions{Priority: []string{"*.kdbx"}}}
	b.pending = []*fileNode{
		file(src, "old.go", day(1, 9)),
		file(srcSub, "b.go", day(20, 8)),
		file(docs, "z.txt", day(20, 7)),
		file(src, "a.go", day(20, 23)),
		file(docs, "vault.kdbx", day(2, 0)),
		file(docs, "a.txt", day(20, 1)),
		file(srcSub, "newest.go", day(21, 0)),
	}
	b.sortPending()
	var got []string
	for _, f := range b.pending {
		got = append(got, f.path())
	}
	want := []string{
		"/home/ann/docs/vault.kdbx",   // priority, though old
		"/home/ann/src/sub/newest.go", // the most recent day
		"/home/ann/docs/a.txt",        // the 20th, folder by folder, name by name
		"/home/ann/docs/z.txt",
		"/home/ann/src/a.go",
		"/home/ann/src/sub/b.go",
		"/home/ann/src/old.go", // the oldest day
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("queue order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
