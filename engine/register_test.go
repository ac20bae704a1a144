package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// trustEnv is a repository, its cache and register, and a source folder;
// each backup opens the repository anew, as a new process would.
type trustEnv struct {
	t                      *testing.T
	repoDir, cacheDir, src string
	opts                   BackupOptions
	damaged                bool // check reports a damaged index file
}

func newTrustEnv(t *testing.T) *trustEnv {
	t.Helper()
	e := &trustEnv{t: t, repoDir: filepath.Join(t.TempDir(), "repo"), cacheDir: t.TempDir(), src: t.TempDir()}
	r, err := repo.Create(context.Background(), local.New(e.repoDir), []byte("pw"),
		repo.CreateOptions{Key: repo.KeyOptions{KDF: crypto.KDFParams{Time: 1, Memory: 1024, Threads: 1}}},
		repo.Options{CacheDir: e.cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	writeTree(t, e.src)
	e.opts = BackupOptions{Device: "dev", Paths: []string{e.src}, RegisterDir: filepath.Join(e.cacheDir, "register"), Now: time.Now}
	return e
}

func (e *trustEnv) open() *repo.Repository {
	e.t.Helper()
	r, err := repo.Open(context.Background(), local.New(e.repoDir), []byte("pw"), repo.Options{CacheDir: e.cacheDir})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Close() })
	return r
}

// backup runs a backup and returns its session and whether it read any
// index file it did not write itself.
func (e *trustEnv) backup() (*snapshot.Session, bool) {
	e.t.Helper()
	r := e.open()
	before := e.indexFiles()
	s, err := Backup(context.Background(), r, e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	loaded := len(r.SkippedIndexFiles()) > 0
	for _, n := range r.IndexFiles() {
		loaded = loaded || slices.Contains(before, n)
	}
	return s, loaded
}

// prune removes every session, index file and cabinet, and the cache's
// copies, as forgetting every session and a prune would.
func (e *trustEnv) prune() {
	for _, dir := range []string{repo.IndexDir, repo.DataDir, repo.SessionsDir} {
		if err := os.RemoveAll(filepath.Join(e.repoDir, dir)); err != nil {
			e.t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(e.repoDir, dir), 0o700)
	}
	caches, _ := filepath.Glob(filepath.Join(e.cacheDir, "*", "*"))
	for _, c := range caches {
		if fi, err := os.Stat(c); err == nil && fi.IsDir() {
			os.RemoveAll(c)
		}
	}
}

func (e *trustEnv) indexFiles() []string {
	names, _ := filepath.Glob(filepath.Join(e.repoDir, repo.IndexDir, "*"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	return names
}

// restorable checks that session s restores to the source's content and
// that check finds nothing wrong but the damage done.
func (e *trustEnv) restorable(s *snapshot.Session) {
	e.t.Helper()
	r := e.open()
	target := e.t.TempDir()
	stats, err := Restore(context.Background(), r, s, RestoreOptions{Target: target, Verify: true})
	if err != nil || stats.VerifyFailed != 0 || stats.Files != 6 {
		e.t.Fatalf("restore: %+v %v", stats, err)
	}
	for _, name := range []string{"a.txt", "sub/b.txt", "sub/deep/c", "skip/x.tmp"} {
		want, _ := os.ReadFile(filepath.Join(e.src, name))
		got, err := os.ReadFile(filepath.Join(target, e.src, name))
		if err != nil || !bytes.Equal(got, want) {
			e.t.Fatalf("restored %s differs: %v", name, err)
		}
	}
	if res, err := Check(context.Background(), r, CheckOptions{ReadData: true}); err != nil || (res.Errors != 0) != e.damaged {
		e.t.Fatalf("check: %+v %v", res, err)
	}
}

// TestRegisterTrust: a backup trusts the register entries of completed
// runs and loads no index while every index file they relied on is still
// there; when one is gone, or the last run did not complete, it checks the
// entries against the index and reads the files whose slices are missing.
// A damaged index file found while loading the index makes the next run
// check every entry.
func TestRegisterTrust(t *testing.T) {
	cases := []struct {
		name string
		// between the first backup and the next one
		disturb func(t *testing.T, e *trustEnv)
		// wantLoaded: the next backup reads index files; wantRead: it reads
		// file content; repairedLater: its session is only restorable
		// after one more backup, which reads the files again
		wantLoaded, wantRead, repairedLater bool
	}{
		{"nothing changed", func(t *testing.T, e *trustEnv) {}, false, false, false},
		{"index files removed with their cabinets", func(t *testing.T, e *trustEnv) {
			// What forgetting every session and a prune do: the sessions
			// and slices are gone. (A session left behind would miss its
			// root tree whenever a folder above the source, the temporary
			// folder, changed meanwhile: other tests make folders there.)
			e.prune()
		}, false, true, false},
		{"a run that did not complete wrote an entry", func(t *testing.T, e *trustEnv) {
			// A killed run (its generation started, never completed) left
			// an entry naming a slice that reached no index file.
			reg, err := openRegister(e.opts.RegisterDir, "dev", "files")
			if err != nil {
				t.Fatal(err)
			}
			defer reg.close()
			if err := reg.begin(e.indexFiles()); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(e.src, "sub", "b.txt")
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			n := snapshot.Node{Content: []blobID{{0xba, 0xd}}, Sizes: []uint32{uint32(fi.Size())}, Xattrs: []snapshot.Xattr{}}
			if err := reg.write([]registerEntry{{[]byte(p), encodeRegisterValue(fingerprintOf(fi), &n, reg.run)}}); err != nil {
				t.Fatal(err)
			}
		}, true, true, false},
		{"an index file damaged", func(t *testing.T, e *trustEnv) {
			// Damaged in the repository and in the cache; a changed file
			// makes the next backup load the index.
			e.damaged = true
			for _, n := range e.indexFiles() {
				for _, p := range append([]string{filepath.Join(e.repoDir, repo.IndexDir, n)}, cacheCopies(t, e.cacheDir, n)...) {
					data, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					data[len(data)/2] ^= 1
					os.WriteFile(p, data, 0o600)
				}
			}
			if err := os.WriteFile(filepath.Join(e.src, "a.txt"), []byte("hello again"), 0o640); err != nil {
				t.Fatal(err)
			}
		}, true, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTrustEnv(t)
			e.opts.Warn = func(string, error) {}
			if _, loaded := e.backup(); loaded {
				t.Fatal("the first backup found index files that were not there")
			}
			c.disturb(t, e)
			s, loaded := e.backup()
			if loaded != c.wantLoaded || (s.Summary.BytesRead > 0) != c.wantRead {
				t.Fatalf("index loaded %v (want %v), %d bytes read (want some: %v)", loaded, c.wantLoaded, s.Summary.BytesRead, c.wantRead)
			}
			if c.repairedLater {
				s, _ = e.backup()
				// All but a.txt, read again before, and the empty file.
				if s.Summary.FilesChanged != 4 {
					t.Fatalf("the backup after the damage was found: %+v, want 4 files read again", s.Summary)
				}
			}
			e.restorable(s)
			// Whatever the disturbance, the run after it trusts the
			// register again.
			s, loaded = e.backup()
			if loaded || s.Summary.BytesRead != 0 || s.Summary.FilesUnchanged != 6 {
				t.Fatalf("the backup after: index loaded %v, %+v", loaded, s.Summary)
			}
			e.restorable(s)
		})
	}
}

// cacheCopies returns the cache's copies of the object called name.
func cacheCopies(t *testing.T, cacheDir, name string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(cacheDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestRegisterGenerations: begin trusts the completed runs' entries only
// while the index files present at the last completion are all there.
func TestRegisterGenerations(t *testing.T) {
	dir := t.TempDir()
	run := func(index []string, complete bool) *register {
		t.Helper()
		reg, err := openRegister(dir, "dev", "files")
		if err != nil {
			t.Fatal(err)
		}
		defer reg.close()
		if err := reg.begin(index); err != nil {
			t.Fatal(err)
		}
		if complete {
			if err := reg.complete(index, nil); err != nil {
				t.Fatal(err)
			}
		}
		return reg
	}
	steps := []struct {
		index    []string
		complete bool
		trusted  []uint64 // generations the run trusts
		doubted  []uint64
	}{
		{[]string{"a"}, true, nil, []uint64{0, 1}},                           // 1: a new register trusts nothing
		{[]string{"a", "b"}, true, []uint64{1}, []uint64{0, 2}},              // 2
		{[]string{"a", "b", "c"}, true, []uint64{1, 2}, []uint64{3}},         // 3
		{[]string{"b", "c"}, true, nil, []uint64{1, 2, 3, 4}},                // 4: "a" is gone
		{[]string{"b", "c"}, false, []uint64{4}, []uint64{3, 5}},             // 5: does not complete
		{[]string{"b", "c"}, true, nil, []uint64{4, 5, 6}},                   // 6: after the incomplete run
		{[]string{"b", "c", "d"}, true, []uint64{6}, []uint64{5, 7}},         // 7
		{[]string{"c", "d", "b", "e"}, true, []uint64{6, 7}, []uint64{5, 8}}, // 8: order does not matter
	}
	for i, st := range steps {
		reg := run(st.index, st.complete)
		if reg.run != uint64(i+1) {
			t.Fatalf("run %d has generation %d", i+1, reg.run)
		}
		for _, g := range st.trusted {
			if !reg.trusts(g) {
				t.Errorf("run %d does not trust generation %d", i+1, g)
			}
		}
		for _, g := range st.doubted {
			if reg.trusts(g) {
				t.Errorf("run %d trusts generation %d", i+1, g)
			}
		}
	}
	// A run that distrusts (a damaged index file) records it.
	reg, err := openRegister(dir, "dev", "files")
	if err != nil {
		t.Fatal(err)
	}
	reg.begin([]string{"b", "c", "d", "e"})
	reg.distrust([]string{"c"})
	reg.complete([]string{"b", "c", "d", "e"}, nil)
	reg.close()
	if reg.run != 9 || !slices.Equal(reg.damaged, []string{"c"}) {
		t.Fatalf("run %d, damaged %q", reg.run, reg.damaged)
	}
	reg, err = openRegister(dir, "dev", "files")
	if err != nil {
		t.Fatal(err)
	}
	reg.begin([]string{"b", "c", "d", "e"})
	if reg.trusts(8) || !reg.trusts(9) {
		t.Error("the run after a distrusting one trusts entries older than it")
	}
	// Told of "c" again (it stays damaged): nothing changes. Told of "d"
	// as well: the run trusts nothing older than itself.
	reg.distrust([]string{"c"})
	if !reg.trusts(9) {
		t.Error("a damaged file already distrusted for made the run distrust again")
	}
	reg.distrust([]string{"c", "d"})
	if reg.trusts(9) || !slices.Equal(reg.damaged, []string{"c", "d"}) {
		t.Errorf("a newly damaged file: trusts 9 %v, damaged %q", reg.trusts(9), reg.damaged)
	}
	reg.close()
	// A register written before generations (no meta values) trusts nothing.
	db, err := bolt.Open(filepath.Join(dir, "old.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(metaBucket)
		return err
	})
	old := &register{db: db}
	if err := old.begin(nil); err != nil || old.trusts(0) || old.trusts(1) {
		t.Errorf("old register: err %v, trusts 0: %v", err, old.trusts(0))
	}
	db.Close()
}

// FuzzRegisterValue: any bytes decode without a panic, and a value that
// decodes encodes back to one that decodes to the same entry.
func FuzzRegisterValue(f *testing.F) {
	fp := fingerprint{size: 7, mtime: 1, ctime: 2, inode: 3, mode: 0o644}
	f.Add(encodeRegisterValue(fp, &snapshot.Node{Content: []blobID{{1}, {2}}, Sizes: []uint32{3, 4}}, 9))
	f.Add(encodeRegisterValue(fingerprint{}, &snapshot.Node{Xattrs: []snapshot.Xattr{{Name: "user.k", Value: []byte("v")}}}, 1))
	f.Add(encodeDirValue(blobID{5}, 300))
	f.Fuzz(func(t *testing.T, v []byte) {
		decodeDirValue(v)
		var n snapshot.Node
		fp, gen, ok := decodeRegisterValue(v, &n)
		if !ok {
			return
		}
		var back snapshot.Node
		fp2, gen2, ok := decodeRegisterValue(encodeRegisterValue(fp, &n, gen), &back)
		if n.Xattrs == nil {
			// A value from before attributes were kept re-encodes with
			// none: equal but for nil against empty.
			n.Xattrs = []snapshot.Xattr{}
		}
		if !ok || fp2 != fp || gen2 != gen || !reflect.DeepEqual(back, n) {
			t.Fatalf("re-encoded value: %v %+v %d\n got %+v\nwant %+v", ok, fp2, gen2, back, n)
		}
	})
}

// An index file removed while a backup runs (a prune from another machine
// of the sessions that used it) is missed by no later run: the run records
// the index files it began with as well as those at its end, so the next
// run finds one gone, trusts no older entry and reads the files again.
// Before, the first source's entries stayed trusted for good: its next
// backup read nothing and named trees that were gone.
func TestRegisterIndexRemovedDuringRun(t *testing.T) {
	e := newTrustEnv(t)
	e.backup()
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "o.txt"), []byte("another source"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.Paths = []string{other}
	o.Processing = e.prune // the first session and what only it used are gone
	if _, err := Backup(context.Background(), e.open(), o); err != nil {
		t.Fatal(err)
	}
	s, _ := e.backup()
	if s.Summary.BytesRead == 0 {
		t.Errorf("the backup after the prune read nothing: %+v", s.Summary)
	}
	e.restorable(s)
}

// TestRegisterLookup: a look-up through registerLookup finds what the
// bucket's Get finds, for a folder's names in order (entries of its
// subfolders, files it no longer has and new files between), in any order,
// and past the last key.
func TestRegisterLookup(t *testing.T) {
	reg, err := openRegister(t.TempDir(), "dev", "files")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.close()
	// Runs of sorted keys from a small alphabet, many of them stored: the
	// steps, the searches and the ends meet in every order.
	rnd := rand.New(rand.NewPCG(1, 2))
	key := func() string {
		b := []byte("/d/")
		for range 1 + rnd.IntN(3) {
			b = append(b, "ab/"[rnd.IntN(3)])
		}
		return string(b)
	}
	stored := []string{"/d/a", "/d/b", "/d/c", "/d/e", "/d/sub/x", "/d/sub/y", "/d/sub/z", "/d/sub2/1",
		"/d/sub2/2", "/d/sub2/3", "/d/sub2/4", "/d/sub2/5", "/d/t", "/d/u", "/e/a", "/z"}
	if err := reg.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(registerBucket)
		if _, err := bk.CreateBucket([]byte("/d/nested")); err != nil { // not a file's entry
			return err
		}
		for range 30 {
			stored = append(stored, key())
		}
		for _, p := range stored {
			if err := bk.Put([]byte(p), []byte("v"+p)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keys []string
	}{
		{"a folder in order", []string{"/d/a", "/d/b", "/d/c", "/d/d", "/d/e", "/d/f", "/d/nested", "/d/t", "/d/u", "/d/v"}},
		{"after a subfolder's entries", []string{"/d/e", "/d/t"}},
		{"steps over more than registerSteps", []string{"/d/a", "/d/sub2/5"}},
		{"absent at the start", []string{"/a", "/b", "/d/a"}},
		{"past the last key", []string{"/z", "/zz", "/zzz"}},
		{"backwards", []string{"/d/u", "/d/t", "/d/b", "/d/a", "/d/a"}},
		{"the same twice", []string{"/d/c", "/d/c", "/d/d", "/d/d"}},
		{"empty and nested", []string{"", "/d/nested", "/d/nested/x"}},
	}
	var run []string
	for range 200 {
		run = append(run, key())
		if len(run) == 12 || rnd.IntN(20) == 0 {
			slices.Sort(run)
			tests = append(tests, struct {
				name string
				keys []string
			}{fmt.Sprintf("random %d", len(tests)), run})
			run = nil
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := reg.db.Begin(false)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			l := reg.lookup(tx)
			bk := tx.Bucket(registerBucket)
			for _, k := range tt.keys {
				var got []byte
				found := false
				reg.get(l, k, func(v []byte) { got, found = slices.Clone(v), true })
				want := bk.Get([]byte(k))
				if found != (want != nil) || found && !bytes.Equal(got, want) { // Get has nil for a nested bucket
					t.Errorf("%q: got %q (found %v), Get has %q", k, got, found, want)
				}
			}
		})
	}
}
