package fs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/fs"
	"github.com/cabinetbackup/cabinet/fs/fstest"
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	src, repoDir string
	r            *repo.Repository
	reader       *repo.Repository // f's
	f            *fs.FS
	clk          *clock
	logs         *logBuf
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSpace(sprintf(format, args...)))
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{src: filepath.Join(t.TempDir(), "src"), repoDir: t.TempDir(), logs: &logBuf{},
		clk: &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	fstest.MakeSource(t, fx.src, 1, 3<<20)
	fx.r = fstest.NewRepo(t, fx.repoDir)
	fstest.Backup(t, fx.r, "laptop", snapshot.SourceFiles, time.Date(2026, 11, 21, 10, 30, 5, 0, time.UTC), fx.src)
	fstest.Backup(t, fx.r, "laptop", snapshot.SourceFiles, time.Date(2026, 11, 21, 10, 30, 5, 500, time.UTC), fx.src)
	fstest.Backup(t, fx.r, "laptop", snapshot.SourcePersona, time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), filepath.Join(fx.src, "docs"))
	r2 := fstest.OpenRepo(t, fx.repoDir) // a fresh reader, as a mount is
	f, err := fs.New(context.Background(), r2, fs.Options{Location: time.UTC, Now: fx.clk.Now, Logf: fx.logs.Logf, CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fx.f = f
	fx.reader = r2
	return fx
}

func walk(t *testing.T, f *fs.FS, path string) fs.Node {
	t.Helper()
	var n fs.Node = f.Root()
	for _, c := range strings.Split(path, "/") {
		if c == "" {
			continue
		}
		d, ok := n.(fs.Dir)
		if !ok {
			t.Fatalf("%s: %s is not a directory", path, c)
		}
		var err error
		if n, err = d.Lookup(context.Background(), c); err != nil {
			t.Fatalf("lookup %s: %v", path, err)
		}
	}
	return n
}

func names(t *testing.T, d fs.Node) []string {
	t.Helper()
	ents, err := d.(fs.Dir).Readdir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}

func readAll(t *testing.T, n fs.Node) []byte {
	t.Helper()
	h, err := n.(fs.File).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var out []byte
	for {
		d, err := h.ReadAt(context.Background(), int64(len(out)), 100_000)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() == 0 {
			return out
		}
		out = append(out, d.Bytes()...)
		d.Release()
	}
}

func TestLayout(t *testing.T) {
	fx := newFixture(t)
	if got := strings.Join(names(t, fx.f.Root()), ","); got != "laptop" {
		t.Fatalf("root: %s", got)
	}
	if got := strings.Join(names(t, walk(t, fx.f, "laptop")), ","); got != "files,persona" {
		t.Fatalf("device: %s", got)
	}
	if got := strings.Join(names(t, walk(t, fx.f, "laptop/files")), ","); got != "2026-11-21 10.30.05,2026-11-21 10.30.05 (2),latest" {
		t.Fatalf("files: %s", got)
	}
	l := walk(t, fx.f, "laptop/files/latest").(fs.Symlink)
	if target, _ := l.Readlink(context.Background()); target != "2026-11-21 10.30.05 (2)" {
		t.Fatalf("latest -> %q", target)
	}
	if got := strings.Join(names(t, walk(t, fx.f, "laptop/persona/2026-11-22 09.00.00")), ","); got != "a.txt,b.txt,link" {
		t.Fatalf("persona: %s", got)
	}
	base := "laptop/files/2026-11-21 10.30.05" + fx.src
	want, _ := os.ReadFile(filepath.Join(fx.src, fstest.BigFile))
	big := walk(t, fx.f, base+"/"+fstest.BigFile)
	if got := readAll(t, big); !bytes.Equal(got, want) {
		t.Fatalf("big file differs (%d vs %d bytes)", len(got), len(want))
	}
	if a := big.Attr(); a.Size != uint64(len(want)) || a.Perm != 0o644 || a.Type != snapshot.TypeFile {
		t.Fatalf("big attr %+v", a)
	}
	a, b := walk(t, fx.f, base+"/"+fstest.HardLinkA).Attr(), walk(t, fx.f, base+"/"+fstest.HardLinkB).Attr()
	if a.Ino != b.Ino || a.Links != 2 {
		t.Fatalf("hard links: %+v %+v", a, b)
	}
	other := walk(t, fx.f, "laptop/files/2026-11-21 10.30.05 (2)"+fx.src+"/"+fstest.HardLinkA).Attr()
	if other.Ino == a.Ino {
		t.Fatal("same inode number in two sessions")
	}
	if n := len(names(t, walk(t, fx.f, base+"/"+fstest.ManyDir))); n != fstest.ManyCount {
		t.Fatalf("many: %d entries", n)
	}
	if walk(t, fx.f, base+"/"+fstest.RealProbe).Attr().Size == 0 {
		t.Fatal("backed-up desktop.ini missing")
	}
	folders := fx.f.SessionFolders(context.Background())
	if len(folders) != 5 || folders["laptop/files/latest"] != folders["laptop/files/2026-11-21 10.30.05 (2)"] {
		t.Errorf("SessionFolders: %v", folders)
	}
	for _, p := range []string{".DS_Store", "laptop/files/._x", "laptop/files/desktop.ini", "laptop/nothing"} {
		dir, name := filepath.Split(p)
		_, err := walk(t, fx.f, dir).(fs.Dir).Lookup(context.Background(), name)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want ErrNotExist", p, err)
		}
	}
}

func TestRandomReads(t *testing.T) {
	fx := newFixture(t)
	want, _ := os.ReadFile(filepath.Join(fx.src, fstest.BigFile))
	n := walk(t, fx.f, "laptop/files/2026-11-21 10.30.05"+fx.src+"/"+fstest.BigFile)
	h, _ := n.(fs.File).Open(context.Background())
	// A random read costs one slice: no read-ahead, no neighbours. One
	// byte: a longer read crosses into the next slice when the random key
	// puts a cut point inside it (a failure in about one run in 650).
	before := fx.f.Stats().SliceLoads
	if d, err := h.ReadAt(context.Background(), int64(len(want)/2), 1); err != nil {
		t.Fatal(err)
	} else {
		d.Release()
	}
	if loads := fx.f.Stats().SliceLoads - before; loads != 1 {
		t.Fatalf("one random read loaded %d slices", loads)
	}
	rnd := rand.New(rand.NewSource(2))
	for i := 0; i < 200; i++ {
		off := rnd.Int63n(int64(len(want)))
		l := rnd.Intn(300_000) + 1
		d, err := h.ReadAt(context.Background(), off, l)
		if err != nil {
			t.Fatal(err)
		}
		end := min(off+int64(l), int64(len(want)))
		if !bytes.Equal(d.Bytes(), want[off:end]) {
			t.Fatalf("read %d at %d: wrong bytes", l, off)
		}
		d.Release()
	}
	if st := fx.f.Stats(); st.CachedBytes > 1<<20+256<<10 {
		t.Fatalf("cache holds %d bytes, budget 1 MiB", st.CachedBytes)
	}
}

func TestNewSessionAppears(t *testing.T) {
	fx := newFixture(t)
	files := walk(t, fx.f, "laptop/files")
	before := len(names(t, files))
	w := fstest.OpenRepo(t, fx.repoDir)
	fstest.Backup(t, w, "laptop", snapshot.SourceFiles, time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), filepath.Join(fx.src, "docs"))
	fstest.Backup(t, w, "desktop", snapshot.SourceFiles, time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), filepath.Join(fx.src, "docs"))
	fx.clk.Add(fs.DefaultRefresh + time.Second)
	if after := len(names(t, files)); after != before+1 {
		t.Fatalf("%d entries after a backup, want %d", after, before+1)
	}
	got := readAll(t, walk(t, fx.f, "laptop/files/2026-11-23 08.00.00"+fx.src+"/docs/a.txt"))
	if string(got) != "hard linked\n" {
		t.Fatalf("new session content %q", got)
	}
	if got := strings.Join(names(t, fx.f.Root()), ","); got != "desktop,laptop" {
		t.Fatalf("root: %s", got)
	}
}

// TestDataIndexOnFirstRead: the tree lists with the index of tree blobs
// only, loads the rest when a file is first read, and then reads the files
// of a session added later too.
func TestDataIndexOnFirstRead(t *testing.T) {
	fx := newFixture(t)
	base := "laptop/files/2026-11-21 10.30.05" + fx.src
	s := mustSession(t, fx)
	slice := findNode(t, fx.r, s.Tree, strings.TrimPrefix(fx.src, "/")+"/"+fstest.BigFile).Content[0]
	big := walk(t, fx.f, base+"/"+fstest.BigFile)
	if len(names(t, walk(t, fx.f, base))) == 0 {
		t.Fatal("empty listing")
	}
	if fx.reader.Index().Has(slice) || !fx.reader.Index().Has(s.Tree) {
		t.Fatal("listing loaded the index of data blobs, or not that of trees")
	}
	want, _ := os.ReadFile(filepath.Join(fx.src, fstest.BigFile))
	if got := readAll(t, big); !bytes.Equal(got, want) {
		t.Fatal("content differs")
	}
	if !fx.reader.Index().Has(slice) {
		t.Fatal("reading a file did not load the index of data blobs")
	}
	// A session with content no earlier one has, added after the load.
	if err := os.WriteFile(filepath.Join(fx.src, "docs", "late.txt"), []byte("added late\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fstest.Backup(t, fstest.OpenRepo(t, fx.repoDir), "laptop", snapshot.SourceFiles, time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC), filepath.Join(fx.src, "docs"))
	fx.clk.Add(fs.DefaultRefresh + time.Second)
	names(t, walk(t, fx.f, "laptop/files"))
	if got := readAll(t, walk(t, fx.f, "laptop/files/2026-11-24 08.00.00"+fx.src+"/docs/late.txt")); string(got) != "added late\n" {
		t.Fatalf("late session's file: %q", got)
	}
}

func TestDamagedSlice(t *testing.T) {
	fx := newFixture(t)
	base := "laptop/files/2026-11-21 10.30.05" + fx.src
	node := findNode(t, fx.r, mustSession(t, fx).Tree, strings.TrimPrefix(fx.src, "/")+"/"+fstest.DamageFile)
	fstest.Corrupt(t, fx.r, fx.repoDir, node.Content[0])
	h, _ := walk(t, fx.f, base+"/"+fstest.DamageFile).(fs.File).Open(context.Background())
	if _, err := h.ReadAt(context.Background(), 0, 10); !errors.Is(err, repo.ErrDamaged) {
		t.Fatalf("read of damaged slice: %v", err)
	}
	if !strings.Contains(fx.logs.String(), fstest.DamageFile) {
		t.Fatalf("log does not name the file: %q", fx.logs.String())
	}
	// The rest still works: a file stored outside the damaged range (small
	// files share it when they are bundled with the damaged one).
	damaged, _ := fx.r.Index().Lookup(node.Content[0])
	other := findNode(t, fx.r, mustSession(t, fx).Tree, strings.TrimPrefix(fx.src, "/")+"/"+fstest.BigFile)
	var at int64
	for _, id := range other.Content {
		loc, _ := fx.r.Index().Lookup(id)
		if loc.Pack == damaged.Pack && loc.Offset == damaged.Offset {
			at += int64(loc.RawLength)
			continue
		}
		h, _ := walk(t, fx.f, base+"/"+fstest.BigFile).(fs.File).Open(context.Background())
		if _, err := h.ReadAt(context.Background(), at, 10); err != nil {
			t.Fatalf("other file: %v", err)
		}
		return
	}
	t.Fatal("no slice of the big file outside the damaged range")
}

func mustSession(t *testing.T, fx *fixture) *snapshot.Session {
	ss, err := snapshot.ListSessions(context.Background(), fx.r, "laptop", nil)
	if err != nil || len(ss) == 0 {
		t.Fatal(err)
	}
	return ss[0]
}

func TestLookupNormalization(t *testing.T) {
	fx := newFixture(t)
	base := "laptop/files/2026-11-21 10.30.05" + fx.src + "/odd names"
	d := walk(t, fx.f, base).(fs.Dir)
	// "ü" decomposed (u + U+0308), as macOS passes it.
	if _, err := d.Lookup(context.Background(), "with space u\u0308 €.txt"); err != nil {
		t.Fatalf("NFD lookup of an NFC name: %v", err)
	}
}

// An interrupted reader stops waiting; the fetch it started goes on and
// serves the next reader.
func TestInterruptedRead(t *testing.T) {
	fx := newFixture(t)
	n := walk(t, fx.f, "laptop/files/2026-11-21 10.30.05"+fx.src+"/"+fstest.BigFile)
	h, _ := n.(fs.File).Open(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := fx.f.Stats().SliceLoads
	// (The fetch may also win the race and the read succeed.)
	if d, err := h.ReadAt(ctx, 1<<20, 1); err == nil {
		d.Release()
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a canceled context: %v", err)
	}
	h2, _ := n.(fs.File).Open(context.Background()) // a fresh handle: no read-ahead yet
	if d, err := h2.ReadAt(context.Background(), 1<<20, 1); err != nil {
		t.Fatal(err)
	} else {
		d.Release()
	}
	if loads := fx.f.Stats().SliceLoads - before; loads != 1 {
		t.Fatalf("%d slice loads, want 1 shared", loads)
	}
}

// A folder of 100,000 entries lists from one tree load.
func TestHugeFolder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := fstest.NewRepo(t, dir)
	var root blob.ID
	if _, err := r.Write(ctx, func(ctx context.Context, w *repo.Writer) error {
		big := snapshot.Tree{Nodes: make([]snapshot.Node, 100_000)}
		for i := range big.Nodes {
			big.Nodes[i] = snapshot.Node{Name: sprintf("f%06d", i), Type: snapshot.TypeFile, Mode: 0o644}
		}
		id, err := snapshot.SaveTree(ctx, w, &big)
		if err != nil {
			return err
		}
		root, err = snapshot.SaveTree(ctx, w, &snapshot.Tree{Nodes: []snapshot.Node{{Name: "big", Type: snapshot.TypeDir, Mode: 0o755, Subtree: id}}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := snapshot.SaveSession(ctx, r, &snapshot.Session{Device: "d", Source: snapshot.SourceFiles, Time: time.Unix(1e9, 0), Tree: root}); err != nil {
		t.Fatal(err)
	}
	f, err := fs.New(ctx, fstest.OpenRepo(t, dir), fs.Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	big := walk(t, f, "d/files/2001-09-09 01.46.40/big")
	ents, err := big.(fs.Dir).Readdir(ctx)
	if err != nil || len(ents) != 100_000 {
		t.Fatalf("%d entries, %v", len(ents), err)
	}
	inos := map[uint64]bool{}
	for _, e := range ents {
		inos[e.Node.Attr().Ino] = true
	}
	if len(inos) != len(ents) {
		t.Errorf("%d distinct inode numbers for %d entries", len(inos), len(ents))
	}
	if _, err := big.(fs.Dir).Lookup(ctx, "f099999"); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.TreeLoads != 2 {
		t.Errorf("%d tree loads, want 2 (root, big)", st.TreeLoads)
	}
}

// A forgotten session disappears after the next refresh.
func TestForgottenSession(t *testing.T) {
	fx := newFixture(t)
	files := walk(t, fx.f, "laptop/files")
	ss, err := snapshot.ListSessions(context.Background(), fx.r, "laptop", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.r.DeleteSession(context.Background(), ss[1].Ref); err != nil { // 10.30.05 (2), the latest
		t.Fatal(err)
	}
	fx.clk.Add(fs.DefaultRefresh + time.Second)
	if got := strings.Join(names(t, files), ","); got != "2026-11-21 10.30.05,latest" {
		t.Fatalf("files after forget: %s", got)
	}
	if _, err := files.(fs.Dir).Lookup(context.Background(), "2026-11-21 10.30.05 (2)"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("forgotten session: %v", err)
	}
	if target, _ := walk(t, fx.f, "laptop/files/latest").(fs.Symlink).Readlink(context.Background()); target != "2026-11-21 10.30.05" {
		t.Fatalf("latest -> %q after forget", target)
	}
}

// Many readers of random ranges through a cache smaller than what they
// hold: slices are evicted while read and recycled only once released.
func TestConcurrentReadsSmallCache(t *testing.T) {
	fx := newFixture(t)
	f, err := fs.New(context.Background(), fstest.OpenRepo(t, fx.repoDir), fs.Options{Location: time.UTC, CacheSize: 256 << 10, Prefetch: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base := "laptop/files/2026-11-21 10.30.05" + fx.src + "/"
	names := []string{fstest.BigFile, "parallel/p0.bin", "parallel/p1.bin", "parallel/p2.bin"}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := names[g%len(names)]
			want, _ := os.ReadFile(filepath.Join(fx.src, name))
			h, err := walk(t, f, base+name).(fs.File).Open(context.Background())
			if err != nil {
				errs <- err
				return
			}
			rnd := rand.New(rand.NewSource(int64(g)))
			var held []fs.Data
			var heldWant [][]byte
			for i := 0; i < 150; i++ {
				off := rnd.Int63n(int64(len(want)))
				if g%2 == 0 { // half of them read sequentially
					off = int64(i) * 100_000 % int64(len(want))
				}
				l := rnd.Intn(200_000) + 1
				d, err := h.ReadAt(context.Background(), off, l)
				if err != nil {
					errs <- err
					return
				}
				held = append(held, d)
				heldWant = append(heldWant, want[off:min(off+int64(l), int64(len(want)))])
				if len(held) == 4 { // hold a few while others evict
					for j, d := range held {
						if !bytes.Equal(d.Bytes(), heldWant[j]) {
							errs <- fmt.Errorf("%s: bytes changed while held", name)
						}
						d.Release()
					}
					held, heldWant = held[:0], heldWant[:0]
				}
			}
			for _, d := range held {
				d.Release()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := f.Stats(); st.CachedBytes > 256<<10+512<<10 {
		t.Errorf("cache holds %d bytes, budget 256 KiB", st.CachedBytes)
	}
}

// A session the mount could not read for a moment (here a link to nothing
// in its file's place: not damage) is read again at the next refresh, not hidden
// until a remount; a damaged one is not read again.
func TestSessionUnreadableForAMoment(t *testing.T) {
	fx := newFixture(t)
	files := walk(t, fx.f, "laptop/files")
	before := len(names(t, files))
	w := fstest.OpenRepo(t, fx.repoDir)
	dir := filepath.Join(fx.repoDir, repo.SessionsDir, "laptop")
	old, _ := os.ReadDir(dir)
	fstest.Backup(t, w, "laptop", snapshot.SourceFiles, time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), filepath.Join(fx.src, "docs"))
	all, _ := os.ReadDir(dir)
	if len(all) != len(old)+1 {
		t.Fatalf("%d session files, want %d", len(all), len(old)+1)
	}
	var p string
	for _, e := range all {
		if !slices.ContainsFunc(old, func(o os.DirEntry) bool { return o.Name() == e.Name() }) {
			p = filepath.Join(dir, e.Name())
		}
	}
	if err := os.Rename(p, p+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(p+".gone", p); err != nil { // listed, then not found
		t.Fatal(err)
	}
	fx.clk.Add(fs.DefaultRefresh + time.Second)
	if n := len(names(t, files)); n != before {
		t.Fatalf("%d entries with the new session unreadable, want %d", n, before)
	}
	os.Remove(p)
	if err := os.Rename(p+".aside", p); err != nil {
		t.Fatal(err)
	}
	fx.clk.Add(fs.DefaultRefresh + time.Second)
	if n := len(names(t, files)); n != before+1 {
		t.Fatalf("%d entries once the session is readable again, want %d", n, before+1)
	}
}
