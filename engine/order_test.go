package engine

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// The processing queue: priority patterns first, then the most recent
// change date, then folder by folder, name by name; records come back from
// the queue file as they went in.
func TestQueueOrder(t *testing.T) {
	day := func(d, h int) int64 {
		return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC).UnixNano()
	}
	docs := &dirNode{path: "/home/ann/docs"}
	src := &dirNode{path: "/home/ann/src"}
	srcSub := &dirNode{path: "/home/ann/src/sub"}
	file := func(d *dirNode, name string, mtime int64) *fileNode {
		return &fileNode{dir: d, meta: fileMeta{Name: name, ModTime: mtime}}
	}
	q := newQueueFile(t.TempDir())
	defer q.close()
	priority, err := compilePatterns("priority", []string{"*.kdbx"})
	if err != nil {
		t.Fatal(err)
	}
	b := &backupRun{priority: priority, queue: q}
	// As scanning finds them: folder by folder, in name order, the folders
	// in any order.
	for _, folder := range [][]*fileNode{
		{file(src, "a.go", day(20, 23)), file(src, "old.go", day(1, 9))},
		{file(docs, "a.txt", day(20, 1)), file(docs, "vault.kdbx", day(2, 0)), file(docs, "z.txt", day(20, 7))},
		{file(srcSub, "b.go", day(20, 8)), file(srcSub, "newest.go", day(21, 0))},
	} {
		var batch queueBatch
		for _, f := range folder {
			batch.put(f, b.rank(f.path()), false)
		}
		b.enqueue(&batch)
	}
	q.finish()
	sortQueue(b.small)
	var got []string
	r := q.reader()
	for i := range b.small.len() {
		f, err := r.file(*b.small.at(i))
		if err != nil {
			t.Fatal(err)
		}
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

// A lane holds its entries in chunks of queueChunk, none larger, and sorts
// them across the chunks as one sorted array would.
func TestQueueLaneChunks(t *testing.T) {
	dirs := []*dirNode{{path: "/a"}, {path: "/a/b"}, {path: "/c"}}
	var lane queueLane
	var flat []queued
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 3*queueChunk + 5 {
		e := queued{dir: dirs[rnd.IntN(len(dirs))], off: int64(i), day: int32(rnd.IntN(30)), rank: int32(rnd.IntN(3))}
		lane.add(e)
		flat = append(flat, e)
	}
	if lane.len() != len(flat) || len(lane) != 4 {
		t.Fatalf("%d entries in %d chunks, want %d in 4", lane.len(), len(lane), len(flat))
	}
	for i, c := range lane {
		if cap(c) > queueChunk || i < len(lane)-1 && len(c) != queueChunk {
			t.Fatalf("chunk %d: %d entries, capacity %d", i, len(c), cap(c))
		}
	}
	sortQueue(lane)
	slices.SortFunc(flat, func(a, c queued) int { return compareQueued(&a, &c) })
	for i := range flat {
		if *lane.at(i) != flat[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, *lane.at(i), flat[i])
		}
	}
}

// Every field a queued file needs comes back from its record: across the
// reader's window, for records larger than it, and when the queue file
// cannot be created or fills up midway (the records then stay in memory).
func TestQueueRecords(t *testing.T) {
	dir := &dirNode{path: "/data"}
	files := []*fileNode{
		{meta: fileMeta{Name: "plain", Mode: 0o644, UID: 1000, GID: 1000, ModTime: 1764000000123456789, Size: 4096},
			fp: fingerprint{size: 4096, mtime: 1764000000123456789, ctime: 1764000000999999999, inode: 77, mode: 0o644}},
		{meta: fileMeta{Name: "linked\nname\xff", Mode: 0o4755, Links: 3, Inode: 1 << 40, DeviceID: 2049, ModTime: -5, Size: 1 << 33,
			Xattrs: []snapshot.Xattr{{Name: "user.a", Value: []byte{}}, {Name: "user.b", Value: []byte("value")}}},
			fp: fingerprint{size: 1 << 33, inode: 1 << 40}, changed: true},
		{meta: fileMeta{Name: "no-xattrs-read", Xattrs: []snapshot.Xattr{}}},
		{meta: fileMeta{Name: "huge-xattr", Xattrs: []snapshot.Xattr{{Name: "user.big", Value: make([]byte, queueWindow+100)}}}},
	}
	for i := range 10000 { // several windows and flushes' worth
		files = append(files, &fileNode{meta: fileMeta{Name: strings.Repeat("n", i%300), Size: uint64(i)}, fp: fingerprint{size: uint64(i)}})
	}
	for _, tc := range []struct {
		name string
		open func(t *testing.T) *queueFile
		// breakAfter makes writes fail after that many batches.
		breakAfter int
	}{
		{name: "file", open: func(t *testing.T) *queueFile { return newQueueFile(t.TempDir()) }, breakAfter: -1},
		{name: "no file", open: func(t *testing.T) *queueFile { return newQueueFile(filepath.Join(t.TempDir(), "missing")) }, breakAfter: -1},
		{name: "fills up", open: func(t *testing.T) *queueFile { return newQueueFile(t.TempDir()) }, breakAfter: 70},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.open(t)
			defer q.close()
			var small, large queueLane
			for i := 0; i < len(files); i += 100 {
				if i/100 == tc.breakAfter {
					if q.disk == 0 {
						t.Fatal("nothing written before the writes fail")
					}
					// Unlinked: reopened read-only through its descriptor.
					ro, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", q.f.Fd()))
					if err != nil {
						t.Skipf("cannot reopen the queue file read-only: %v", err)
					}
					q.f.Close()
					q.f = ro
				}
				var batch queueBatch
				for _, f := range files[i:min(i+100, len(files))] {
					f.dir = dir
					batch.put(f, 0, false)
				}
				q.add(&batch, &small, &large)
			}
			q.finish()
			if tc.breakAfter >= 0 && !q.full {
				t.Fatal("writes to a read-only file did not fail")
			}
			r := q.reader()
			for i := range small.len() {
				got, err := r.file(*small.at(i))
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if !reflect.DeepEqual(got, files[i]) {
					t.Fatalf("record %d:\n got %+v\nwant %+v", i, got, files[i])
				}
			}
		})
	}
	for _, bad := range [][]byte{{}, {5, 1}, {1, 'a'}, append(appendQueueRecord(nil, files[0])[1:], 0)} {
		if err := decodeQueueRecord(bad, &fileNode{}); err == nil {
			t.Errorf("record %x decoded without error", bad)
		}
	}
}

// FuzzQueueRecord: any bytes decode without a panic, and a record that
// decodes encodes back to a record that decodes to the same file.
func FuzzQueueRecord(f *testing.F) {
	f.Add(appendQueueRecord(nil, &fileNode{meta: fileMeta{Name: "a", Size: 3}})[1:])
	f.Add(appendQueueRecord(nil, &fileNode{meta: fileMeta{Name: "x", Xattrs: []snapshot.Xattr{{Name: "user.k", Value: []byte("v")}}}, changed: true})[1:])
	f.Fuzz(func(t *testing.T, rec []byte) {
		got := &fileNode{}
		if decodeQueueRecord(rec, got) != nil {
			return
		}
		again := appendQueueRecord(nil, got)
		_, k := binary.Uvarint(again)
		back := &fileNode{}
		if err := decodeQueueRecord(again[k:], back); err != nil || !reflect.DeepEqual(back, got) {
			t.Fatalf("re-encoded record: %v\n got %+v\nwant %+v", err, back, got)
		}
	})
}
