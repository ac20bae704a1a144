//go:build linux

package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
)

// TestReviewRepairDamagedIndexAndCabinet: the index file that lists a
// cabinet is damaged, and so is one slice of that cabinet. The repair
// reads the cabinet whole (no good index file lists it) and leaves it out;
// its good blobs (the bundle of small files, the other slices) are what
// the sessions need and the only copy once the source is gone: they must
// be stored again, and the loss reported (exit 3), not called a left-over
// "listed by no index file" with "no blob lost".
func TestReviewRepairDamagedIndexAndCabinet(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "keep.bin"), coreRandom(1, 2<<20), 0o644)
	coreBackup(t, e, 0, src)
	before := coreRepoFiles(t, e, "")
	coreWrite(t, filepath.Join(src, "hit.bin"), coreRandom(2, 3<<20), 0o644)
	for i := range 20 {
		coreWrite(t, filepath.Join(src, "small2", fmt.Sprintf("b%d.txt", i)), []byte(strings.Repeat(fmt.Sprintf("hit %d\n", i), 200)), 0o644)
	}
	coreBackup(t, e, 0, src)
	added := coreNewFiles(before, coreRepoFiles(t, e, ""))
	var idxFile string
	for _, n := range added {
		if strings.HasPrefix(n, "index/") {
			idxFile = n
		}
	}
	if idxFile == "" {
		t.Fatalf("the second backup wrote no index file: %q", added)
	}

	// A data cabinet the damaged index file lists with more than one blob,
	// one of them sealed alone: a bit of that one is flipped.
	r := e.openRepo(t)
	packs, err := r.ReadIndexFile(context.Background(), filepath.Base(idxFile))
	if err != nil {
		t.Fatal(err)
	}
	cab, off, blobs := "", -1, 0
	for _, p := range packs {
		if p.Entries[0].Type != blob.Data || len(p.Entries) < 2 {
			continue
		}
		for _, en := range p.Entries {
			if !en.Bundled && en.Length > 1<<16 {
				cab, off, blobs = repo.PackName(p.Pack), int(en.Offset+en.Length/2), len(p.Entries)
				break
			}
		}
	}
	if cab == "" {
		t.Fatalf("no data cabinet of several blobs, one large: %v", packs)
	}
	r.Close()

	coreFlipBit(t, filepath.Join(e.repo, cab), off)
	coreFlipBit(t, filepath.Join(e.repo, idxFile), 40)
	// The source is gone: the repository holds the only copy.
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}

	res := repairJSON(t, e, 3, "--read-data")
	if res.BlobsSalvaged != blobs-1 || res.BlobsLost != 1 {
		t.Errorf("repair index --read-data: %d blobs stored again and %d lost, want %d and 1: %+v", res.BlobsSalvaged, res.BlobsLost, blobs-1, res)
	}
	// Only the damaged slice is missing now: hit.bin is named, nothing else.
	code, findings := checkJSON(t, e)
	if code != 13 {
		t.Errorf("check after the repair: exit %d, want 13", code)
	}
	missing := 0
	for _, f := range findings {
		if !f.Error {
			continue
		}
		if !strings.HasPrefix(f.Object, "blob ") || len(f.Files) == 0 || !strings.HasSuffix(f.Files[0], filepath.Join(src, "hit.bin")) {
			t.Errorf("check after the repair: %+v, want only a slice of hit.bin missing", f)
		}
		missing++
	}
	if missing != 1 {
		t.Errorf("check after the repair: %d blobs missing, want 1", missing)
	}
	// The small files of the second session restore, from wherever they are.
	target := filepath.Join(e.dir, "restore")
	e.expectCode(3, "restore", "--target", target, "latest")
	for i := range 20 {
		got, err := os.ReadFile(coreRestored(target, filepath.Join(src, "small2", fmt.Sprintf("b%d.txt", i))))
		if want := []byte(strings.Repeat(fmt.Sprintf("hit %d\n", i), 200)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("small2/b%d.txt after the repair: %v, %d bytes", i, err, len(got))
		}
	}
	got, err := os.ReadFile(coreRestored(target, filepath.Join(src, "keep.bin")))
	if err != nil || !bytes.Equal(got, coreRandom(1, 2<<20)) {
		t.Errorf("keep.bin: %v", err)
	}
	// A second repair changes nothing.
	if again := repairJSON(t, e, 0, "--read-data"); !again.Unchanged {
		t.Errorf("second repair: %+v, want nothing to do", again)
	}
}
