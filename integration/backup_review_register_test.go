//go:build linux

package integration

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reviewRegisterFile returns the path of the one register file in the
// env's cache.
func reviewRegisterFile(t *testing.T, e *env) string {
	t.Helper()
	var found []string
	filepath.WalkDir(e.cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "register-") && strings.HasSuffix(d.Name(), ".db") {
			found = append(found, p)
		}
		return nil
	})
	if len(found) != 1 {
		t.Fatalf("want one register file in the cache, found %q", found)
	}
	return found[0]
}

// reviewGarblePages garbles the bytes of every page of the bbolt file at p
// after its page header, except the two meta pages (so bbolt's open sees a
// valid file) and, if keepFreelist, the freelist page the newer meta names.
// A power loss during a run, which writes the register without syncing, or a
// bad sector leaves such a file.
func reviewGarblePages(t *testing.T, p string, keepFreelist bool) {
	t.Helper()
	d, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096
	if len(d) < 4*pageSize || binary.LittleEndian.Uint32(d[16+8:]) != pageSize {
		t.Fatalf("register %s: %d bytes, not a bbolt file of 4 KiB pages", p, len(d))
	}
	// Meta: page header (16 bytes), magic, version, page size, flags (4 each),
	// root bucket (16), freelist, high water mark, txid (8 each).
	freelist, txid := uint64(0), uint64(0)
	for m := range 2 {
		o := m*pageSize + 16
		if id := binary.LittleEndian.Uint64(d[o+48:]); id >= txid {
			txid, freelist = id, binary.LittleEndian.Uint64(d[o+32:])
		}
	}
	for pg := 2; pg < len(d)/pageSize; pg++ {
		if keepFreelist && uint64(pg) == freelist {
			continue
		}
		for i := pg*pageSize + 16; i < (pg+1)*pageSize; i++ {
			d[i] = d[i]*7 + 13
		}
	}
	if err := os.WriteFile(p, d, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBackupReviewDamagedRegisterPages: a register a run left unfinished
// (its marker there) whose meta pages are intact but whose other pages are
// damaged costs speed only: the backup
// reads every file again, exits 0 with a complete session, and the next
// backup reads nothing. It used to crash: a panic in bbolt's open (a
// damaged freelist page) or a segmentation fault on the first look-up,
// exit 2, for every later backup of the device until the cache was
// deleted by hand.
func TestBackupReviewDamagedRegisterPages(t *testing.T) {
	for _, tc := range []struct {
		name         string
		keepFreelist bool
	}{{"every page", false}, {"every page but the freelist", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := coreFor(t, newEnv(t))
			src := filepath.Join(e.dir, "src")
			var total int64
			for i := range 40 {
				n := 1000 + i*700
				coreWrite(t, filepath.Join(src, "d"+string(rune('a'+i%5)), "f"+strings.Repeat("x", i)), coreRandom(int64(i), n), 0o644)
				total += int64(n)
			}
			coreBackup(t, e, 0, src)
			coreBackup(t, e, 0, src)
			reg := reviewRegisterFile(t, e)
			if _, err := os.Stat(reg + ".unfinished"); !os.IsNotExist(err) {
				t.Fatalf("a completed run left its unfinished marker: %v", err)
			}
			reviewGarblePages(t, reg, tc.keepFreelist)
			// As a run that a power loss interrupted leaves it: its pages
			// half written, its marker durable.
			if err := os.WriteFile(reg+".unfinished", nil, 0o600); err != nil {
				t.Fatal(err)
			}

			s, r := coreBackup(t, e, 0, src)
			if s.Status != "completed" || s.Summary.BytesRead != total || s.Summary.TotalFiles != 40 {
				t.Fatalf("backup with a damaged register: want every file read (%d bytes) and a complete session, got %+v\n%s", total, s, r)
			}
			s, _ = coreBackup(t, e, 0, src)
			if s.Summary.BytesRead != 0 || s.Summary.FilesUnchanged != 40 {
				t.Fatalf("backup after the register was rebuilt: want nothing read, got %+v", s.Summary)
			}
			e.mustCheck()
			target := filepath.Join(e.dir, "restore")
			e.mustRun("restore", "--target", target, "latest")
			coreDiff(t, src, coreRestored(target, src))
		})
	}
}

// TestBackupReviewRegisterDamagedAfterCompletedRun: a register that a
// completed run left (no unfinished marker, so its pages are not checked
// at open) and that was damaged since (a bad sector) costs speed only.
// Every backup of the device used to crash on it, a fault in bbolt,
// until someone deleted the cache: now the run that meets the damage
// reads the files it has not decided on and completes. Damage the open
// meets is repaired there; damage the scan meets makes the run remove the
// register, and the next run builds it anew. Damage to the pages the open
// reads (every page) and to the files' leaf pages only, which only the
// scan's look-ups meet.
func TestBackupReviewRegisterDamagedAfterCompletedRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		leavesOnly bool
	}{{"every page", false}, {"leaf pages of the files", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := coreFor(t, newEnv(t))
			src := filepath.Join(e.dir, "src")
			const files = 2000
			for i := range files {
				coreWrite(t, filepath.Join(src, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("file-with-a-longer-name-%05d", i)), []byte(fmt.Sprintf("content %d\n", i)), 0o644)
			}
			coreBackup(t, e, 0, src)
			coreBackup(t, e, 0, src)
			reg := reviewRegisterFile(t, e)
			if tc.leavesOnly {
				reviewGarbleLeaves(t, reg)
			} else {
				reviewGarblePages(t, reg, false)
			}
			s, r := coreBackup(t, e, 0, src)
			if s.Status != "completed" || s.Summary.TotalFiles != files {
				t.Fatalf("backup with a damaged register: want a complete session of %d files, got %+v\n%s", files, s, r)
			}
			if s.Summary.BytesRead == 0 {
				t.Fatalf("backup with a damaged register read nothing: %+v", s.Summary)
			}
			// Damage met at the open is repaired there, and the run fills
			// the new register; damage met by the scan makes the run
			// remove the register, and the next run fills a new one.
			if tc.leavesOnly {
				coreBackup(t, e, 0, src)
			}
			s, _ = coreBackup(t, e, 0, src)
			if s.Summary.BytesRead != 0 || s.Summary.FilesUnchanged != files {
				t.Fatalf("backup after the register was rebuilt: want nothing read, got %+v", s.Summary)
			}
			e.mustCheck()
			target := filepath.Join(e.dir, "restore")
			e.mustRun("restore", "--target", target, "latest")
			coreDiff(t, src, coreRestored(target, src))
		})
	}
}

// reviewGarbleLeaves garbles the leaf pages of the bbolt file at p that
// hold file entries, not the root page (which names the buckets).
func reviewGarbleLeaves(t *testing.T, p string) {
	t.Helper()
	d, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize, leafFlag = 4096, 0x02
	garbled := 0
	for o := 2 * pageSize; o+pageSize <= len(d); o += pageSize {
		page := d[o : o+pageSize]
		if binary.LittleEndian.Uint16(page[8:]) != leafFlag || bytes.Contains(page, []byte("sessions")) || !bytes.Contains(page, []byte("file-with")) {
			continue
		}
		for i := 16; i < pageSize; i++ {
			page[i] = page[i]*7 + 13
		}
		garbled++
	}
	if garbled < 2 {
		t.Fatalf("register %s: %d leaf pages of files, want several", p, garbled)
	}
	if err := os.WriteFile(p, d, 0o600); err != nil {
		t.Fatal(err)
	}
}
