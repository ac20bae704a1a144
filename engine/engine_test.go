package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/repo/index"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// Match and the compiled patterns are internal/glob's (tested there) on
// paths with the system's separators.
func TestMatch(t *testing.T) {
	sep := string(filepath.Separator)
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"*.tmp", sep + filepath.Join("home", "ann", "x.tmp"), true},
		{"/home/*/.cache", sep + filepath.Join("home", "ann", ".cache", "x"), true},
		{"src/**/*.go", sep + filepath.Join("home", "src", "main.c"), false},
		{"cache[", sep + "cache[", false}, // malformed: matches nothing
	} {
		if got := Match(tc.pattern, tc.path); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
	include, err := compilePatterns("include", []string{"/home/*/Documents"})
	if err != nil {
		t.Fatal(err)
	}
	if !include.mayMatchBelow(pathNames(sep+"home")) || include.mayMatchBelow(pathNames(sep+"srv")) {
		t.Error("mayMatchBelow")
	}
}

func TestRegisterValueRoundTrip(t *testing.T) {
	n := snapshot.Node{Content: []blobID{{1}, {2}}, Sizes: []uint32{3, 4}}
	fp := fingerprint{size: 7, mtime: 1, ctime: 2, inode: 3, mode: 0o644}
	var got snapshot.Node
	gfp, gen, ok := decodeRegisterValue(encodeRegisterValue(fp, &n, 300), &got)
	if !ok || gfp != fp || gen != 300 || got.Content[1] != n.Content[1] || got.Sizes[0] != 3 {
		t.Fatalf("round trip: %v %+v gen %d %+v", ok, gfp, gen, got)
	}
	if len(got.Xattrs) != 0 || got.Xattrs == nil {
		t.Fatalf("no attributes should decode as an empty, non-nil list: %#v", got.Xattrs)
	}
	n.Xattrs = []snapshot.Xattr{{Name: "user.a", Value: []byte("1")}, {Name: "user.b", Value: nil}}
	if _, gen, ok := decodeRegisterValue(encodeRegisterValue(fp, &n, 1), &got); !ok || gen != 1 || len(got.Xattrs) != 2 ||
		got.Xattrs[0].Name != "user.a" || string(got.Xattrs[0].Value) != "1" || got.Xattrs[1].Name != "user.b" {
		t.Fatalf("attributes round trip: %v %d %+v", ok, gen, got.Xattrs)
	}
	// Older registers: values without a generation (generation 0, trusted
	// by no run), and before that without attributes either.
	plain := encodeRegisterValue(fp, &snapshot.Node{Content: n.Content, Sizes: n.Sizes}, 1)
	noGen, noXattrs := plain[:len(plain)-1], plain[:len(plain)-2]
	if _, gen, ok := decodeRegisterValue(noGen, &got); !ok || gen != 0 || got.Xattrs == nil {
		t.Fatalf("a value without a generation must decode with generation 0: %v %d %#v", ok, gen, got.Xattrs)
	}
	if _, gen, ok := decodeRegisterValue(noXattrs, &got); !ok || gen != 0 || got.Xattrs != nil {
		t.Fatalf("a value without attributes must decode with nil Xattrs: %v %d %#v", ok, gen, got.Xattrs)
	}
	for _, bad := range [][]byte{{1, 2}, append(bytes.Clone(noXattrs), 3, 1), append(bytes.Clone(plain), 1), append(bytes.Clone(noGen), 0x80)} {
		if _, _, ok := decodeRegisterValue(bad, &got); ok {
			t.Fatalf("garbage accepted: %x", bad)
		}
	}
}

func TestDirValueRoundTrip(t *testing.T) {
	id := blobID{9, 8, 7}
	for _, gen := range []uint64{1, 127, 128, 1 << 40} {
		g, got, ok := decodeDirValue(encodeDirValue(id, gen))
		if !ok || g != gen || got != id {
			t.Fatalf("generation %d: %v %d %x", gen, ok, g, got)
		}
	}
	for _, bad := range [][]byte{nil, id[:], append(encodeDirValue(id, 5), 1), append(id[:], 0x80)} {
		if _, _, ok := decodeDirValue(bad); ok {
			t.Fatalf("garbage accepted: %x", bad)
		}
	}
}

func newRepo(t *testing.T) *repo.Repository {
	t.Helper()
	r, err := repo.Create(context.Background(), local.New(filepath.Join(t.TempDir(), "repo")), []byte("pw"),
		repo.CreateOptions{Key: repo.KeyOptions{KDF: crypto.KDFParams{Time: 1, Memory: 1024, Threads: 1}}},
		repo.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// randomBytes returns n bytes from rnd.
func randomBytes(rnd *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	return b
}

func writeTree(t *testing.T, dir string) {
	t.Helper()
	big := randomBytes(rand.New(rand.NewPCG(1, 1)), 3<<20)
	files := map[string][]byte{
		"a.txt":          []byte("hello"),
		"sub/b.txt":      bytes.Repeat([]byte("b"), 10000),
		"sub/deep/c":     big,
		"sub/empty":      nil,
		"skip/x.tmp":     []byte("excluded"),
		"name\nwith\xff": []byte("odd name"),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("a.txt", filepath.Join(dir, "link"))
}

func TestBackupRestoreRoundTripAndRegister(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	writeTree(t, src)
	regDir := t.TempDir()
	opts := BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: regDir, Excludes: []string{"*.tmp"}, Now: time.Now}
	s1, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Summary.FilesNew != 5 || s1.Status != snapshot.StatusCompleted {
		t.Fatalf("first session: %+v", s1.Summary)
	}
	s2, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The folders above src (/tmp ...) may change under other processes;
	// src's own tree must keep its ID.
	if s2.Summary.BytesRead != 0 || s2.Summary.FilesUnchanged != 5 || subtree(t, r, s2, src) != subtree(t, r, s1, src) || s2.Parent != s1.ID() {
		t.Fatalf("unchanged backup: %+v parent %q", s2.Summary, s2.Parent)
	}
	target := t.TempDir()
	stats, err := Restore(ctx, r, s2, RestoreOptions{Target: target, Verify: true})
	if err != nil || stats.VerifyFailed != 0 || stats.Files != 5 {
		t.Fatalf("restore: %+v %v", stats, err)
	}
	got, _ := os.ReadFile(filepath.Join(target, src, "sub/b.txt"))
	if !bytes.Equal(got, bytes.Repeat([]byte("b"), 10000)) {
		t.Fatal("restored content differs")
	}
	if _, err := os.Stat(filepath.Join(target, src, "skip/x.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("excluded file was backed up")
	}
	if l, _ := os.Readlink(filepath.Join(target, src, "link")); l != "a.txt" {
		t.Fatalf("symlink target %q", l)
	}
	res, err := Check(ctx, r, CheckOptions{ReadData: true})
	if err != nil || res.Errors != 0 || res.Sessions != 2 {
		t.Fatalf("check: %+v %v", res, err)
	}
}

// subtree returns the tree ID of the folder at absolute path p in s.
func subtree(t *testing.T, r *repo.Repository, s *snapshot.Session, p string) string {
	t.Helper()
	n, err := snapshot.FindPath(context.Background(), r, s.Tree, filepath.ToSlash(p))
	if err != nil {
		t.Fatal(err)
	}
	return n.Subtree.String()
}

func TestSecondSessionOfSameSourceIsBusy(t *testing.T) {
	regDir := t.TempDir()
	g, err := openRegister(regDir, "dev", "files")
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	if _, err := openRegister(regDir, "dev", "files"); !errors.Is(err, ErrBusy) {
		t.Fatalf("second open: %v", err)
	}
	other, err := openRegister(regDir, "dev", "persona")
	if err != nil {
		t.Fatalf("another data source must not wait: %v", err)
	}
	other.close()
}

// backedUpTree backs up a writeTree tree into a new repository.
func backedUpTree(t *testing.T) (r *repo.Repository, src string, s *snapshot.Session) {
	t.Helper()
	r = newRepo(t)
	src = t.TempDir()
	writeTree(t, src)
	s, err := Backup(context.Background(), r, BackupOptions{Device: "dev", Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	return r, src, s
}

func TestRestoreIncludeAndOverwrite(t *testing.T) {
	ctx := context.Background()
	r, src, s := backedUpTree(t)
	target := t.TempDir()
	if _, err := Restore(ctx, r, s, RestoreOptions{Target: target, Include: []string{filepath.Join(src, "sub")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(target, src, "a.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a file outside --include was restored")
	}
	if _, err := os.Stat(filepath.Join(target, src, "sub/deep/c")); err != nil {
		t.Fatal("included file missing")
	}
	p := filepath.Join(target, src, "sub/b.txt")
	os.WriteFile(p, []byte("local change"), 0o644)
	for _, tc := range []struct {
		policy, want string
	}{{OverwriteNever, "local change"}, {OverwriteAlways, string(bytes.Repeat([]byte("b"), 10000))}} {
		if _, err := Restore(ctx, r, s, RestoreOptions{Target: target, Overwrite: tc.policy}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != tc.want {
			t.Fatalf("overwrite %s: got %d bytes", tc.policy, len(got))
		}
	}
}

// TestRestoreIncludeMakesOnlyNeededFolders: an include pattern that may
// match at any depth walks every folder, but only the folders on the way to
// what it selects are made; one that selects nothing is an error and makes
// no folder.
func TestRestoreIncludeMakesOnlyNeededFolders(t *testing.T) {
	ctx := context.Background()
	r, src, s := backedUpTree(t)
	target := t.TempDir()
	stats, err := Restore(ctx, r, s, RestoreOptions{Target: target, Include: []string{"b.txt"}})
	if err != nil || stats.Files != 1 || stats.Warnings != 0 {
		t.Fatalf("restore: %+v, %v", stats, err)
	}
	var got []string
	filepath.WalkDir(filepath.Join(target, src), func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(filepath.Join(target, src), p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	if want := []string{".", "sub", "sub/b.txt"}; !slices.Equal(got, want) {
		t.Errorf("restored %q, want %q (no empty folders beside)", got, want)
	}
	// The folder made on the way has its stored mode and time.
	orig, _ := os.Stat(filepath.Join(src, "sub"))
	made, err := os.Stat(filepath.Join(target, src, "sub"))
	if err != nil || made.Mode().Perm() != 0o755 || !made.ModTime().Equal(orig.ModTime()) {
		t.Errorf("folder made on the way: %v %v, want mode 0755 and time %v", made.Mode(), err, orig.ModTime())
	}

	none := t.TempDir()
	_, err = Restore(ctx, r, s, RestoreOptions{Target: none, Include: []string{"*.none"}})
	if !errors.Is(err, ErrNothingSelected) || !strings.Contains(err.Error(), "*.none") {
		t.Fatalf("include that matches nothing: %v", err)
	}
	if ents, _ := os.ReadDir(none); len(ents) != 0 {
		t.Errorf("include that matches nothing made %d entries in the target", len(ents))
	}
}

// TestRegisterBatchesOfEmptyFiles: empty files go into the register in
// batches while the scan runs (more than two batches here, plus some files
// with content written at the end), and the next session finds every one
// unchanged without reading it.
func TestRegisterBatchesOfEmptyFiles(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	const dirs, perDir = 25, 1000 // 25,000 empty files: 2.5 batches
	for i := range dirs {
		d := filepath.Join(src, fmt.Sprintf("d%02d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range perDir {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("e%04d", j)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, "content"), []byte(d), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: t.TempDir(), Now: time.Now}
	s1, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(dirs * (perDir + 1)); s1.Summary.FilesNew != want {
		t.Fatalf("first session: %d new files, want %d", s1.Summary.FilesNew, want)
	}
	s2, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(dirs * (perDir + 1)); s2.Summary.FilesUnchanged != want || s2.Summary.BytesRead != 0 {
		t.Fatalf("second session: %+v, want %d unchanged and nothing read", s2.Summary, want)
	}
}

// A folder large enough to be scanned in parts by several goroutines: its
// files, sub-folders and links all come back, and it keeps its tree ID
// when nothing changed.
func TestLargeFolderScannedInParts(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	const n = 3*partNames + 17
	files := 0
	for i := range n {
		p := filepath.Join(src, fmt.Sprintf("f%05d", i))
		var err error
		switch i % 500 {
		case 7: // a folder with one file
			if err = os.Mkdir(p, 0o755); err == nil {
				err = os.WriteFile(filepath.Join(p, "inner"), []byte(p), 0o644)
			}
		case 11:
			err = os.Symlink("target", p)
		case 13:
			err = os.WriteFile(p, nil, 0o644)
		default:
			err = os.WriteFile(p, []byte(p), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%500 != 11 {
			files++
		}
	}
	opts := BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: t.TempDir(), Now: time.Now}
	s1, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Summary.FilesNew != int64(files) {
		t.Fatalf("first session: %d new files, want %d", s1.Summary.FilesNew, files)
	}
	s2, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Summary.BytesRead != 0 || subtree(t, r, s2, src) != subtree(t, r, s1, src) {
		t.Fatalf("unchanged: %+v", s2.Summary)
	}
	target := t.TempDir()
	stats, err := Restore(ctx, r, s2, RestoreOptions{Target: target, Verify: true})
	if err != nil || stats.VerifyFailed != 0 || stats.Files != int64(files) {
		t.Fatalf("restore: %+v %v", stats, err)
	}
	last := fmt.Sprintf("f%05d", n-1)
	for name, want := range map[string]string{
		"f00000":       filepath.Join(src, "f00000"),
		"f05013":       "",
		last:           filepath.Join(src, last),
		"f04507/inner": filepath.Join(src, "f04507"),
	} {
		if got, err := os.ReadFile(filepath.Join(target, src, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q %v, want %q", name, got, err, want)
		}
	}
	if l, _ := os.Readlink(filepath.Join(target, src, "f00011")); l != "target" {
		t.Errorf("link: %q", l)
	}
}

// TestRestoreOrder checks the order files are written in: plan hands over
// the files of more than one part or of directBytes as it finds them, and
// the rest go in the order their first slices lie in the cabinets.
func TestRestoreOrder(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	rnd := rand.New(rand.NewPCG(2, 2))
	random := func(n int) []byte { return randomBytes(rnd, n) }
	sizes := map[string]int{"huge": 40 << 20, "large": 24 << 20, "mid": 3 << 20, "direct": directBytes, "below": directBytes - 1}
	for i := range 60 {
		sizes[fmt.Sprintf("d%d/small%02d", i%7, i)] = 100 + 997*i
	}
	for name, n := range sizes {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, random(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Backup(ctx, r, BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: t.TempDir(), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	rr := &restoreRun{r: r, o: RestoreOptions{Overwrite: OverwriteIfChanged, Warn: func(string, error) {}}, firstLink: map[[2]uint64]string{},
		large: make(chan *restoreFile, 10)}
	if err := rr.plan(ctx, s.Tree, t.TempDir(), "/", false, nil); err != nil {
		t.Fatal(err)
	}
	close(rr.large)
	var large []string
	for f := range rr.large {
		large = append(large, filepath.Base(f.path))
	}
	if slices.Sort(large); strings.Join(large, " ") != "direct huge large mid" {
		t.Fatalf("plan handed over %v as large files, want direct, huge, large and mid", large)
	}
	if len(rr.files) != len(sizes)-4 {
		t.Fatalf("%d files of one part planned, want %d", len(rr.files), len(sizes)-4)
	}
	rr.orderFiles()
	var prev index.Location
	for i, f := range rr.files {
		loc, ok := r.Index().Lookup(f.node.Content[0])
		if !ok {
			t.Fatalf("%s: first slice not in the index", f.path)
		}
		if i > 0 {
			if c := bytes.Compare(prev.Pack[:], loc.Pack[:]); c > 0 || c == 0 && prev.Offset > loc.Offset {
				t.Fatalf("%s (cabinet %s at %d) comes after cabinet %s at %d", f.path, loc.Pack.Short(), loc.Offset, prev.Pack.Short(), prev.Offset)
			}
		}
		prev = loc
	}
}

// TestRestoreZeroRuns restores files written whole by one worker whose
// zero blocks are left as holes: at the end (the file gets its size after
// its last write), at the start, and all through.
func TestRestoreZeroRuns(t *testing.T) {
	data := bytes.Repeat([]byte("cabinet "), 1280) // 10 KiB
	zeros := make([]byte, 300<<10)
	restoreRoundTrip(t, map[string][]byte{
		"tail": append(append([]byte{}, data...), zeros...),
		"head": append(append([]byte{}, zeros...), data...),
		"all":  zeros,
		"odd":  append(append([]byte{}, data[:5000]...), zeros[:5000]...), // ends inside a block
	})
}

// Large files are read past the page cache (directReader) in aligned
// blocks; one whose size is not a multiple of the block size ends with a
// read the kernel may refuse there, and must still come back whole. Runs
// of zeros go to the workers as shared zeros (newSlice).
func TestLargeFilesReadDirect(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	restoreRoundTrip(t, map[string][]byte{
		"aligned":   randomBytes(rnd, readAheadMin+aheadBlockSize),
		"unaligned": randomBytes(rnd, readAheadMin+4321),
		"one-more":  randomBytes(rnd, readAheadMin+aheadBlockSize+1),
		"image":     slices.Concat(randomBytes(rnd, 3<<20), make([]byte, 13<<20+77), randomBytes(rnd, 1<<20)),
	})
}

// restoreRoundTrip writes files (mode 0640) to a new folder, backs it up,
// restores it and checks each file's content, mode and mtime. It returns
// where the folder was restored.
func restoreRoundTrip(t *testing.T, files map[string][]byte) string {
	t.Helper()
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(src, name), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Backup(ctx, r, BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: t.TempDir(), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if _, err := Restore(ctx, r, s, RestoreOptions{Target: target}); err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		p := filepath.Join(target, src, name)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes back (%v), want %d", name, len(got), err, len(want))
			continue
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", name, fi.Mode())
		}
		orig, _ := os.Stat(filepath.Join(src, name))
		if !fi.ModTime().Equal(orig.ModTime()) {
			t.Errorf("%s: mtime %v, want %v", name, fi.ModTime(), orig.ModTime())
		}
	}
	return filepath.Join(target, src)
}

// A session's parent is the newest session of its device and data source:
// the one the register's last run saved, read alone, or, when that one was
// forgotten or there is no register, the newest found by reading them all.
func TestBackupParent(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	writeTree(t, src)
	files := BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: t.TempDir(), Now: time.Now}
	persona := files
	persona.Source, persona.RegisterDir = snapshot.SourcePersona, t.TempDir()
	backup := func(o BackupOptions) *snapshot.Session {
		t.Helper()
		s, err := Backup(ctx, r, o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	f1 := backup(files)
	p1 := backup(persona)
	f2 := backup(files)
	if f1.Parent != "" || p1.Parent != "" || f2.Parent != f1.ID() {
		t.Fatalf("parents %q %q %q, want none, none and %s", f1.Parent, p1.Parent, f2.Parent, f1.ShortID())
	}
	if err := r.DeleteSession(ctx, f2.Ref); err != nil { // the register's last session forgotten
		t.Fatal(err)
	}
	if f3 := backup(files); f3.Parent != f1.ID() {
		t.Fatalf("after the last session was forgotten: parent %q, want %s", f3.Parent, f1.ShortID())
	}
	noRegister := files
	noRegister.RegisterDir = ""
	f4 := backup(noRegister)
	if p2 := backup(persona); p2.Parent != p1.ID() {
		t.Fatalf("persona parent %q, want %s", p2.Parent, p1.ShortID())
	}
	f5 := backup(files)
	if f5.Parent != f4.ID() { // newer than the register's last run's
		t.Fatalf("parent %q, want %s, the newest", f5.Parent, f4.ShortID())
	}
	// Sessions the register knows are not read again: f5, made damaged,
	// is still the parent (check is what finds damage).
	if err := r.Backend().Put(ctx, f5.Ref.Path(), []byte("damaged")); err != nil {
		t.Fatal(err)
	}
	if f6 := backup(files); f6.Parent != f5.ID() {
		t.Fatalf("parent %q, want %s: a session the register knew was read again", f6.Parent, f5.ShortID())
	}
}

func TestJoinNameIsFilepathJoin(t *testing.T) {
	for _, c := range []struct{ dir, name string }{
		{"/", "etc"},
		{"/home/ann", "notes.txt"},
		{"/home/ann/", "notes.txt"},
		{"/a b/c", "..d"},
		{"/x", ".hidden"},
	} {
		dir := filepath.FromSlash(c.dir) // clean on every OS, as the scan's folder paths are
		if got, want := joinName(dir, c.name), filepath.Join(dir, c.name); got != want {
			t.Errorf("joinName(%q, %q) = %q, filepath.Join gives %q", dir, c.name, got, want)
		}
	}
}
