//go:build linux

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/index"
)

// bundleSource writes n small text files (each one slice, so bundled in a
// format 5 repository) and returns their paths and contents.
func bundleSource(t *testing.T, dir string, n int) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for i := range n {
		var b strings.Builder
		for j := range 200 + i*3 {
			fmt.Fprintf(&b, "file %d line %d: some text that compresses\n", i, j)
		}
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%5), fmt.Sprintf("f%03d.txt", i))
		coreWrite(t, p, []byte(b.String()), 0o644)
		files[p] = []byte(b.String())
	}
	return files
}

// bundleOf returns where the repository keeps the blob of each small file,
// grouped by bundle (cabinet and offset).
func bundlesOf(t *testing.T, e *env, files map[string][]byte) map[index.Location][]string {
	t.Helper()
	r := e.openRepo(t)
	if err := r.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[index.Location][]string{}
	for p, data := range files {
		loc, ok := r.Index().Lookup(r.Key().ID(data))
		if !ok {
			t.Fatalf("%s: its blob is not indexed", p)
		}
		if !loc.Bundled {
			t.Fatalf("%s (%d bytes) is not bundled", p, len(data))
		}
		loc.RawLength = 0
		out[loc] = append(out[loc], p)
	}
	return out
}

// TestCoreBundleDamage: one byte flipped inside a bundle of small files.
// check --read-data exits 13 and names every file of that bundle and none
// of another; a restore restores the others (and verifies them), and warns
// about each damaged one.
func TestCoreBundleDamage(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	files := bundleSource(t, src, 150)
	coreBackup(t, e, 0, src)
	e.mustCheck()
	bundles := bundlesOf(t, e, files)
	if len(bundles) < 3 {
		t.Fatalf("%d bundles, want several", len(bundles))
	}
	var hit index.Location
	for loc, ps := range bundles {
		if len(ps) > 1 {
			hit = loc
			break
		}
	}
	if hit.Pack == (blob.ID{}) {
		t.Fatal("no bundle of several files")
	}
	coreFlipBit(t, filepath.Join(e.repo, repo.PackName(hit.Pack)), int(hit.Offset+hit.Length/2))

	r := e.expectCode(13, "check", "--read-data")
	for _, p := range bundles[hit] {
		coreOneLine(t, r.stderr, "affects", p)
	}
	for loc, ps := range bundles {
		if loc == hit {
			continue
		}
		for _, p := range ps {
			if strings.Contains(r.stderr, p+"\n") {
				t.Errorf("check names %s, whose bundle is intact", p)
			}
		}
	}

	target := filepath.Join(e.dir, "restore")
	rr := e.run("restore", "--verify", "--target", target, "latest")
	if rr.code != 3 {
		t.Fatalf("restore with damaged files: want exit 3, got %s", rr)
	}
	damaged := map[string]bool{}
	for _, p := range bundles[hit] {
		damaged[p] = true
		coreOneLine(t, rr.stderr, "warning", coreRestored(target, p))
	}
	for p, data := range files {
		if damaged[p] {
			continue
		}
		got, err := os.ReadFile(coreRestored(target, p))
		if err != nil || string(got) != string(data) {
			t.Errorf("%s not restored intact: %v", p, err)
		}
	}
	// Again (if-changed): the damaged files are tried and reported again,
	// the others skipped.
	rr = e.run("restore", "--json", "--target", target, "latest")
	var out struct{ Stats coreRestoreStats }
	if err := json.Unmarshal([]byte(rr.stdout), &out); err != nil {
		t.Fatalf("restore --json: %v\n%s", err, rr)
	}
	if n := int64(len(damaged)); out.Stats.Files != 0 || out.Stats.Warnings != n || out.Stats.Skipped != int64(len(files))-n {
		t.Errorf("second restore: %+v, want 0 restored, %d skipped, %d warnings", out.Stats, int64(len(files))-n, n)
	}
}

// TestMountBundledFiles: a mount (each adapter) serves hundreds of small
// files kept in bundles, read by 16 readers at once, byte for byte as
// backed up.
func TestMountBundledFiles(t *testing.T) {
	mountRequire(t)
	for _, adapter := range mountAdapters(t) {
		t.Run(adapter, func(t *testing.T) {
			bin := mountBinary(t, adapter)
			e := newEnv(t)
			src := filepath.Join(e.dir, "src")
			files := bundleSource(t, src, 400)
			name := mountBackup(t, e, src)
			if n := len(bundlesOf(t, e, files)); n < 5 {
				t.Fatalf("%d bundles, want several", n)
			}
			mp := filepath.Join(e.dir, "mnt")
			s := startMount(t, e, bin, mp, "--adapter", adapter)
			defer s.Stop(t)
			paths := make(chan string)
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for p := range paths {
						got, err := os.ReadFile(filepath.Join(mp, "testdevice", "files", name, p))
						if err != nil || string(got) != string(files[p]) {
							t.Errorf("%s through the mount: %d bytes, %v", p, len(got), err)
						}
					}
				}()
			}
			for p := range files {
				paths <- p
			}
			close(paths)
			wg.Wait()
		})
	}
}

// TestCoreDiskFullSmallFiles: a repository's disk fills while thousands of
// small files are stored in bundles. The backup fails with one line, exit
// 1; the repository passes a reading check; once the disk grows the same
// backup succeeds and restores.
func TestCoreDiskFullSmallFiles(t *testing.T) {
	base := newEnv(t)
	e := smallDiskRepo(t, base, "12m")
	src := filepath.Join(base.dir, "src")
	for i := range 3000 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("d%d/f%04d.bin", i%10, i)), coreRandom(int64(i), 5000+i), 0o644)
	}
	r := e.run("backup", "--quiet", src)
	if r.code != 1 {
		t.Fatalf("backup of 23 MB of small files into 12 MB: want exit 1, got %s", r)
	}
	coreOneLine(t, r.stderr, "disk is full")
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
		t.Errorf("want one line on a full disk, got:\n%s", r.stderr)
	}
	if ss := coreSessions(t, &e); len(ss) != 0 {
		t.Errorf("a failed backup left a session: %+v", ss)
	}
	e.mustCheck()
	if out, err := exec.Command("mount", "-o", "remount,size=256m", filepath.Dir(e.repo)).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v: %s", err, out)
	}
	coreBackup(t, &e, 0, src)
	e.mustCheck()
	target := filepath.Join(base.dir, "restore")
	e.mustRun("restore", "--verify", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))
}
