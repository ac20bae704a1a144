//go:build unix

package fstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SessionName matches session folder names.
var SessionName = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d\.\d\d\.\d\d( \(\d+\))?$`)

// Env describes a mounted tree for Run.
type Env struct {
	// Mountpoint is where the tree is mounted (by another process).
	Mountpoint string
	// Device is the device whose "files" sessions back up Source.
	Device string
	// Source is the folder MakeSource wrote, backed up (by its absolute
	// path) in every "files" session of Device.
	Source string
	// Damaged, if set, is the mount path of a file whose first slice was
	// corrupted before mounting: reading it must fail with EIO.
	Damaged string
	// AddSession, if set, backs up Source again as a new "files" session
	// while mounted, at when if it can choose the time, and returns the
	// new session's folder name.
	AddSession func(t *testing.T, when time.Time) string
	// Large says Source holds LargeDir (MakeLargeFolder), written before
	// its first backup.
	Large bool
}

// Run is the read-only conformance suite every mount of a cabinet tree
// passes: both adapters run it on real mounts, the integration tests run it
// on the real binary. It uses the mount from this process, so the mount
// must be served by another one.
func Run(t *testing.T, env Env) {
	if env.Large {
		// First: no other test has listed LargeDir, so the kernel has no
		// cached listing of it yet and every part comes from the mount.
		t.Run("ConcurrentListings", func(t *testing.T) { testConcurrentListings(t, env) })
	}
	t.Run("Layout", func(t *testing.T) { testLayout(t, env) })
	t.Run("DiffR", func(t *testing.T) { testDiff(t, env) })
	t.Run("Metadata", func(t *testing.T) { testMetadata(t, env, env.Latest()) })
	t.Run("NamesThenStat", func(t *testing.T) { testNamesThenStat(t, env) })
	if env.Large {
		t.Run("LargeFolder", func(t *testing.T) { testLargeFolder(t, env) })
	}
	t.Run("ReadOnly", func(t *testing.T) { testReadOnly(t, env) })
	t.Run("Probes", func(t *testing.T) { testProbes(t, env) })
	t.Run("RandomReads", func(t *testing.T) { testRandomReads(t, env) })
	t.Run("ConcurrentReaders", func(t *testing.T) { testConcurrent(t, env) })
	t.Run("Statfs", func(t *testing.T) { testStatfs(t, env) })
	if env.Damaged != "" {
		t.Run("Damaged", func(t *testing.T) { testDamaged(t, env) })
	}
	if env.AddSession != nil {
		t.Run("NewSession", func(t *testing.T) { testNewSession(t, env) })
	}
}

func (env Env) files() string { return filepath.Join(env.Mountpoint, env.Device, "files") }

// Latest returns the mount path of Source in the newest "files" session.
func (env Env) Latest() string { return filepath.Join(env.files(), "latest", env.Source) }

func readNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func testLayout(t *testing.T, env Env) {
	if got := readNames(t, env.Mountpoint); !contains(got, env.Device) {
		t.Fatalf("mount root lists %q, want %s in it", got, env.Device)
	}
	if got := strings.Join(readNames(t, filepath.Join(env.Mountpoint, env.Device)), ","); got != "files,persona" {
		t.Fatalf("device folder lists %q, want files,persona", got)
	}
	names := readNames(t, env.files())
	if !sort.StringsAreSorted(names) {
		t.Errorf("files/ not sorted: %q", names)
	}
	var sessions []string
	for _, n := range names {
		if n == "latest" {
			continue
		}
		if !SessionName.MatchString(n) {
			t.Errorf("session folder %q does not match %s", n, SessionName)
		}
		sessions = append(sessions, n)
	}
	if len(sessions) == 0 || !contains(names, "latest") {
		t.Fatalf("files/ lists %q: want sessions and latest", names)
	}
	target, err := os.Readlink(filepath.Join(env.files(), "latest"))
	if err != nil {
		t.Fatalf("latest is not a symlink: %v", err)
	}
	if target != sessions[len(sessions)-1] {
		t.Errorf("latest -> %q, want the newest session %q", target, sessions[len(sessions)-1])
	}
	if fi, err := os.Stat(env.Latest()); err != nil || !fi.IsDir() {
		t.Fatalf("latest does not resolve to the backed-up folder: %v", err)
	}
}

func testDiff(t *testing.T, env Env) {
	out, err := exec.Command("diff", "-r", "--no-dereference", env.Source, env.Latest()).CombinedOutput()
	if err != nil {
		t.Fatalf("diff -r %s <mount>: %v\n%s", env.Source, err, out)
	}
}

// testMetadata compares every entry under mnt, the mount path of Source in
// some session, with Source.
func testMetadata(t *testing.T, env Env, mnt string) {
	n := 0
	err := filepath.Walk(env.Source, func(p string, want os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(env.Source, p)
		got, err := os.Lstat(filepath.Join(mnt, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		n++
		if got.Mode() != want.Mode() {
			t.Errorf("%s: mode %v, want %v", rel, got.Mode(), want.Mode())
		}
		if !got.ModTime().Equal(want.ModTime()) {
			t.Errorf("%s: mtime %v, want %v", rel, got.ModTime(), want.ModTime())
		}
		if !want.IsDir() && got.Size() != want.Size() {
			t.Errorf("%s: size %d, want %d", rel, got.Size(), want.Size())
		}
		gs, ws := got.Sys().(*syscall.Stat_t), want.Sys().(*syscall.Stat_t)
		if gs.Uid != ws.Uid || gs.Gid != ws.Gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, gs.Uid, gs.Gid, ws.Uid, ws.Gid)
		}
		if want.Mode().IsRegular() {
			if gs.Nlink != ws.Nlink {
				t.Errorf("%s: %d links, want %d", rel, gs.Nlink, ws.Nlink)
			}
			if gs.Blocks == 0 && want.Size() > 0 {
				t.Errorf("%s: 0 blocks (du would say 0)", rel)
			}
		}
		if want.Mode()&os.ModeSymlink != 0 {
			g, _ := os.Readlink(filepath.Join(mnt, rel))
			w, _ := os.Readlink(p)
			if g != w {
				t.Errorf("%s: symlink -> %q, want %q", rel, g, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(mnt, HardLinkA))
	b, _ := os.Stat(filepath.Join(mnt, HardLinkB))
	if a == nil || b == nil || a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino {
		t.Errorf("hard links %s and %s have different inode numbers", HardLinkA, HardLinkB)
	}
	if n < ManyCount {
		t.Errorf("compared only %d entries", n)
	}
}

// testNamesThenStat walks the oldest session, which no other test lists,
// by names only, as find -type f does, and then stats every entry: the
// listings a names-only walk gets may leave attributes out (gofuse's
// listing policy), and every attribute must still be right.
func testNamesThenStat(t *testing.T, env Env) {
	var oldest string
	for _, n := range readNames(t, env.files()) {
		if SessionName.MatchString(n) {
			oldest = n
			break
		}
	}
	if oldest == "" {
		t.Fatal("no session folder")
	}
	mnt := filepath.Join(env.files(), oldest, env.Source)
	walk := func(root string) []string {
		var out []string
		err := filepath.WalkDir(root, func(p string, d iofs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel+" "+d.Type().String())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got, want := walk(mnt), walk(env.Source)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("names-only walk of %s lists %d entries, want the %d of %s", mnt, len(got), len(want), env.Source)
	}
	testMetadata(t, env, mnt)
}

// testLargeFolder lists LargeDir, larger than one part of a listing, a
// little at a time, rewinds it past the first part, lists it again whole,
// and reads a file of its last part: every name once, in order, across
// the parts.
func testLargeFolder(t *testing.T, env Env) {
	dir := filepath.Join(env.Latest(), LargeDir)
	want := make([]string, LargeCount)
	for i := range want {
		want[i] = fmt.Sprintf("f%05d", i)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := func(limit int) []string {
		var got []string
		for limit < 0 || len(got) < limit {
			ents, err := f.ReadDir(100)
			for _, e := range ents {
				got = append(got, e.Name())
			}
			if err == io.EOF || len(ents) == 0 {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	if got := read(LargeCount - 200); len(got) < LargeCount-200 || strings.Join(got, ",") != strings.Join(want[:len(got)], ",") {
		t.Fatalf("%s: %d names, not the first %d in order", dir, len(got), LargeCount-200)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if got := read(-1); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s after a rewind: %d names, want %d in order", dir, len(got), len(want))
	}
	last := filepath.Join(dir, want[len(want)-1])
	if data, err := os.ReadFile(last); err != nil || string(data) != fmt.Sprintf("file %d\n", LargeCount-1) {
		t.Fatalf("%s: %q, %v", last, data, err)
	}
}

// testConcurrentListings lists LargeDir from four open handles at once,
// a hundred names at a time, so their requests interleave at different
// offsets (go-fuse on Linux serves them through one handle of the folder,
// opendirless): each gets every name once, in order.
func testConcurrentListings(t *testing.T, env Env) {
	dir := filepath.Join(env.Latest(), LargeDir)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			f, err := os.Open(dir)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			next := 0
			for {
				ents, err := f.ReadDir(100)
				for _, e := range ents {
					if want := fmt.Sprintf("f%05d", next); e.Name() != want {
						t.Errorf("lister %d: name %d is %s, want %s", i, next, e.Name(), want)
						return
					}
					next++
				}
				if err == io.EOF || len(ents) == 0 {
					break
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
			if next != LargeCount {
				t.Errorf("lister %d: %d names, want %d", i, next, LargeCount)
			}
		})
	}
	wg.Wait()
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

func testReadOnly(t *testing.T, env Env) {
	mnt := env.Latest()
	file := filepath.Join(mnt, HardLinkA)
	wantErrno(t, "create", os.WriteFile(filepath.Join(mnt, "new"), []byte("x"), 0o644), syscall.EROFS)
	_, err := os.OpenFile(file, os.O_WRONLY, 0)
	wantErrno(t, "open for writing", err, syscall.EROFS)
	_, err = os.OpenFile(file, os.O_RDWR|os.O_APPEND, 0)
	wantErrno(t, "open for appending", err, syscall.EROFS)
	wantErrno(t, "truncate", os.Truncate(file, 0), syscall.EROFS)
	wantErrno(t, "chmod", os.Chmod(file, 0o777), syscall.EROFS)
	wantErrno(t, "chtimes", os.Chtimes(file, time.Now(), time.Now()), syscall.EROFS)
	wantErrno(t, "rename", os.Rename(file, file+".x"), syscall.EROFS)
	wantErrno(t, "remove", os.Remove(file), syscall.EROFS)
	wantErrno(t, "mkdir", os.Mkdir(filepath.Join(mnt, "d"), 0o755), syscall.EROFS)
	wantErrno(t, "symlink", os.Symlink("x", filepath.Join(mnt, "l")), syscall.EROFS)
	wantErrno(t, "link", os.Link(file, filepath.Join(mnt, "l2")), syscall.EROFS)
	wantErrno(t, "mkdir at the top", os.Mkdir(filepath.Join(env.files(), "x"), 0o755), syscall.EROFS)
	wantErrno(t, "remove a session", os.RemoveAll(filepath.Join(env.files(), "latest")), syscall.EROFS)
	if data, err := os.ReadFile(file); err != nil || string(data) != "hard linked\n" {
		t.Errorf("file changed: %q %v", data, err)
	}
}

func testProbes(t *testing.T, env Env) {
	dev := filepath.Join(env.Mountpoint, env.Device)
	for _, p := range []string{
		filepath.Join(env.Mountpoint, ".DS_Store"),
		filepath.Join(env.Mountpoint, "._.", "x"),
		filepath.Join(env.Mountpoint, "._"+env.Device),
		filepath.Join(env.Mountpoint, "desktop.ini"),
		filepath.Join(env.Mountpoint, "autorun.inf"),
		filepath.Join(env.Mountpoint, ".Spotlight-V100"),
		filepath.Join(env.Mountpoint, ".hidden"),
		filepath.Join(env.Mountpoint, "$RECYCLE.BIN"),
		filepath.Join(dev, ".localized"),
		filepath.Join(dev, "Thumbs.db"),
		filepath.Join(env.files(), ".DS_Store"),
		filepath.Join(env.files(), "desktop.ini"),
		filepath.Join(env.files(), "._latest"),
		filepath.Join(env.Latest(), ".DS_Store"),
		filepath.Join(env.Latest(), HardLinkA, "desktop.ini"),
	} {
		_, err := os.Lstat(p)
		if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("%s: %v, want not found", p, err)
		}
	}
	// Inside sessions a backed-up desktop.ini is real data.
	if data, err := os.ReadFile(filepath.Join(env.Latest(), RealProbe)); err != nil || len(data) == 0 {
		t.Errorf("backed-up %s: %q %v", RealProbe, data, err)
	}
}

func testRandomReads(t *testing.T, env Env) {
	want, err := os.ReadFile(filepath.Join(env.Source, BigFile))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(env.Latest(), BigFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rnd := rand.New(rand.NewSource(3))
	buf := make([]byte, 1<<20)
	for i := 0; i < 300; i++ {
		off := rnd.Int63n(int64(len(want)))
		n := rnd.Intn(len(buf)) + 1
		got, err := f.ReadAt(buf[:n], off)
		if err != nil && err != io.EOF {
			t.Fatalf("read %d at %d: %v", n, off, err)
		}
		end := min(off+int64(n), int64(len(want)))
		if !bytes.Equal(buf[:got], want[off:end]) {
			t.Fatalf("read %d at %d: wrong bytes", n, off)
		}
	}
}

func testConcurrent(t *testing.T, env Env) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("parallel/p%d.bin", i)
			want, err := os.ReadFile(filepath.Join(env.Source, name))
			if err != nil {
				errs <- err
				return
			}
			got, err := os.ReadFile(filepath.Join(env.Latest(), name))
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, want) {
				errs <- fmt.Errorf("%s: content differs", name)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testStatfs(t *testing.T, env Env) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(env.Mountpoint, &st); err != nil {
		t.Fatal(err)
	}
	if st.Bsize == 0 {
		t.Errorf("statfs block size 0")
	}
}

func testDamaged(t *testing.T, env Env) {
	_, err := os.ReadFile(env.Damaged)
	wantErrno(t, "read of a damaged slice", err, syscall.EIO)
	// The mount stays up.
	if _, err := os.Stat(filepath.Join(env.Latest(), BigFile)); err != nil {
		t.Fatalf("mount gone after a damaged slice: %v", err)
	}
}

func testNewSession(t *testing.T, env Env) {
	names := readNames(t, env.files())
	when := time.Now().Truncate(time.Second)
	// Names looked up before they exist must not stay cached as missing.
	for i := 0; i < 4; i++ {
		guess := when.Add(time.Duration(i) * time.Second).Local().Format("2006-01-02 15.04.05")
		if contains(names, guess) {
			continue // a session of this second exists already
		}
		if _, err := os.Stat(filepath.Join(env.files(), guess)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("session %s exists before the backup: %v", guess, err)
		}
	}
	name := env.AddSession(t, when)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := os.Stat(filepath.Join(env.files(), name, env.Source, BigFile))
		if err == nil && contains(readNames(t, env.files()), name) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new session %s did not appear within 15s (files/ lists %q; stat: %v)", name, readNames(t, env.files()), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(readNames(t, env.files())) != len(names)+1 {
		t.Errorf("files/ lists %q after one backup, had %q", readNames(t, env.files()), names)
	}
	for {
		target, _ := os.Readlink(filepath.Join(env.files(), "latest"))
		if target == name {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("latest -> %q, want %q", target, name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
