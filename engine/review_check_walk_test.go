package engine

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// reviewCheckRepo is a repository whose sessions are crafted blob by blob,
// so that a test decides which cabinet holds what.
type reviewCheckRepo struct {
	t   *testing.T
	dir string
	r   *repo.Repository
}

func newReviewCheckRepo(t *testing.T) *reviewCheckRepo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := repo.Create(context.Background(), local.New(dir), []byte("pw"),
		repo.CreateOptions{Key: repo.KeyOptions{KDF: crypto.KDFParams{Time: 1, Memory: 1024, Threads: 1}}}, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &reviewCheckRepo{t: t, dir: dir, r: r}
}

// blob stores n seeded random bytes as a data blob in a cabinet of its own.
func (c *reviewCheckRepo) blob(seed int64, n int) (blob.ID, uint32) {
	c.t.Helper()
	data := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(data)
	var id blob.ID
	if _, err := c.r.Write(context.Background(), func(ctx context.Context, w *repo.Writer) error {
		var err error
		id, _, err = w.SaveBlob(ctx, blob.Data, data)
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
	return id, uint32(n)
}

func (c *reviewCheckRepo) tree(nodes ...snapshot.Node) blob.ID {
	c.t.Helper()
	tr := &snapshot.Tree{Nodes: nodes}
	tr.Sort()
	var id blob.ID
	if _, err := c.r.Write(context.Background(), func(ctx context.Context, w *repo.Writer) error {
		var err error
		id, err = snapshot.SaveTree(ctx, w, tr)
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c *reviewCheckRepo) session(tree blob.ID, at time.Time) *snapshot.Session {
	c.t.Helper()
	s := &snapshot.Session{Device: "dev", Source: snapshot.SourceFiles, Time: at, Tree: tree, Status: snapshot.StatusCompleted, Paths: []string{"/"}}
	if err := snapshot.SaveSession(context.Background(), c.r, s); err != nil {
		c.t.Fatal(err)
	}
	return s
}

// cabinet returns the path of the cabinet holding id.
func (c *reviewCheckRepo) cabinet(id blob.ID) (string, blob.ID) {
	c.t.Helper()
	loc, ok := c.r.Index().Lookup(id)
	if !ok {
		c.t.Fatalf("blob %s not indexed", id)
	}
	return filepath.Join(c.dir, filepath.FromSlash(repo.PackName(loc.Pack))), loc.Pack
}

func (c *reviewCheckRepo) flip(id blob.ID) blob.ID {
	c.t.Helper()
	loc, _ := c.r.Index().Lookup(id)
	p, pack := c.cabinet(id)
	data, err := os.ReadFile(p)
	if err != nil {
		c.t.Fatal(err)
	}
	data[loc.Offset+20] ^= 1
	os.Chmod(p, 0o600)
	if err := os.WriteFile(p, data, 0o400); err != nil {
		c.t.Fatal(err)
	}
	return pack
}

// check opens the repository anew and checks it.
func (c *reviewCheckRepo) check(ctx context.Context, o CheckOptions) (CheckResult, []Finding, error) {
	c.t.Helper()
	r, err := repo.Open(context.Background(), local.New(c.dir), []byte("pw"), repo.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	defer r.Close()
	var findings []Finding
	o.Report = func(f Finding) { findings = append(findings, f) }
	res, err := Check(ctx, r, o)
	return res, findings, err
}

func reviewFinding(t *testing.T, findings []Finding, object string) Finding {
	t.Helper()
	for _, f := range findings {
		if f.Object == object {
			return f
		}
	}
	t.Fatalf("no finding for %s among %+v", object, findings)
	return Finding{}
}

func reviewFileNode(name string, ids []blob.ID, sizes []uint32) snapshot.Node {
	var size uint64
	for _, s := range sizes {
		size += uint64(s)
	}
	return snapshot.Node{Name: name, Type: snapshot.TypeFile, Mode: 0o644, Size: size, Content: ids, Sizes: sizes}
}

func reviewDirNode(name string, sub blob.ID) snapshot.Node {
	return snapshot.Node{Name: name, Type: snapshot.TypeDir, Mode: 0o755, Subtree: sub}
}

// TestReviewCheckNamesEverySessionAndPath: a damaged cabinet is named with
// every file that uses it, in every session and at every path: trees are
// shared between sessions (an unchanged folder keeps its tree) and within
// one (two identical folders), and check read each tree once, so only the
// first session's files were named. A file with slices in two damaged
// cabinets is named with both (the second was called unused, a note).
// Sessions of the same second are named as 'sessions' names them, "(2)".
func TestReviewCheckNamesEverySessionAndPath(t *testing.T) {
	c := newReviewCheckRepo(t)
	b1, n1 := c.blob(1, 200<<10)
	b2, n2 := c.blob(2, 200<<10)
	b3, n3 := c.blob(3, 200<<10)
	sub := c.tree(reviewFileNode("f", []blob.ID{b1, b2}, []uint32{n1, n2}))
	root1 := c.tree(reviewDirNode("x", sub), reviewDirNode("y", sub))
	root2 := c.tree(reviewDirNode("x", sub), reviewFileNode("g", []blob.ID{b3}, []uint32{n3}))
	at := time.Date(2026, 11, 21, 10, 30, 5, 0, time.Local)
	c.session(root1, at)
	c.session(root2, at.Add(100*time.Millisecond))
	c.session(root1, at.Add(200*time.Millisecond))
	name := at.Format(snapshot.TimeLayout)
	want := []string{
		"dev " + name + " /x/f", "dev " + name + " /y/f",
		"dev " + name + " (2) /x/f",
		"dev " + name + " (3) /x/f", "dev " + name + " (3) /y/f",
	}
	slices.Sort(want)
	c1 := c.flip(b1)
	p2, c2 := c.cabinet(b2)
	if err := os.Remove(p2); err != nil {
		t.Fatal(err)
	}
	for _, readData := range []bool{false, true} {
		res, findings, err := c.check(context.Background(), CheckOptions{ReadData: readData})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors == 0 {
			t.Fatalf("read-data %v: no error: %+v", readData, findings)
		}
		objs := []blob.ID{c2}
		if readData {
			objs = append(objs, c1)
		}
		for _, p := range objs {
			f := reviewFinding(t, findings, repo.PackName(p))
			got := slices.Clone(f.Files)
			slices.Sort(got)
			if !f.Error || !slices.Equal(got, want) {
				t.Errorf("read-data %v: %s: error %v, files\n%q\nwant\n%q", readData, repo.PackName(p), f.Error, got, want)
			}
			if strings.Contains(f.Message, "no session uses it") {
				t.Errorf("read-data %v: %s: %q", readData, repo.PackName(p), f.Message)
			}
		}
	}
}

// TestReviewCheckUnusedDamageIsAnError: a missing or damaged cabinet that
// no session uses yet (an interrupted backup indexed it) was a note, and
// check exited 0; but the index still lists its slices, so the next backup
// of those files takes them for stored and its session loses them.
func TestReviewCheckUnusedDamageIsAnError(t *testing.T) {
	c := newReviewCheckRepo(t)
	b1, _ := c.blob(1, 200<<10)
	b2, _ := c.blob(2, 200<<10)
	c.session(c.tree(), time.Now())
	c1 := c.flip(b1)
	p2, c2 := c.cabinet(b2)
	if err := os.Remove(p2); err != nil {
		t.Fatal(err)
	}
	res, findings, err := c.check(context.Background(), CheckOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []blob.ID{c1, c2} {
		if f := reviewFinding(t, findings, repo.PackName(p)); !f.Error {
			t.Errorf("%s: not an error: %+v", repo.PackName(p), f)
		}
	}
	if res.Errors != 2 {
		t.Errorf("%d errors, want 2: %+v", res.Errors, findings)
	}
}

// TestReviewCheckDamagedSessionNamesItsFile: a session object that does
// not open is a finding whose object is that file, not "session".
func TestReviewCheckDamagedSessionNamesItsFile(t *testing.T) {
	c := newReviewCheckRepo(t)
	s := c.session(c.tree(), time.Now())
	reviewFlipMiddle(t, filepath.Join(c.dir, filepath.FromSlash(s.Ref.Path())))
	_, findings, err := c.check(context.Background(), CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f := reviewFinding(t, findings, s.Ref.Path()); !f.Error {
		t.Errorf("damaged session: %+v", f)
	}
}

// TestReviewCheckInterruptedReportsNothing: once the check is interrupted
// (Ctrl-C), what fails is not damage: no finding, and Check returns the
// context's error instead of a result with made-up errors.
func TestReviewCheckInterruptedReportsNothing(t *testing.T) {
	c := newReviewCheckRepo(t)
	b1, n1 := c.blob(1, 200<<10)
	root := c.tree(reviewDirNode("d", c.tree(reviewFileNode("f", []blob.ID{b1}, []uint32{n1}))))
	c.session(root, time.Now())
	for _, readData := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		o := CheckOptions{ReadData: readData}
		if readData {
			o.Progress = func(done, total int) {
				if done == total {
					cancel()
				}
			}
		} else {
			cancel()
		}
		_, findings, err := c.check(ctx, o)
		cancel()
		if !errors.Is(err, context.Canceled) || len(findings) > 0 {
			t.Errorf("read-data %v: interrupted check: %v, findings %+v", readData, err, findings)
		}
	}
}

// TestReviewCheckTruncatedCabinetNamesFiles: a check without --read-data
// found a truncated cabinet but named none of the files it costs; it names
// those whose slices lay past the cut, and not those before it, which
// still restore.
func TestReviewCheckTruncatedCabinetNamesFiles(t *testing.T) {
	c := newReviewCheckRepo(t)
	var ids [2]blob.ID
	const n = 200 << 10
	if _, err := c.r.Write(context.Background(), func(ctx context.Context, w *repo.Writer) error {
		for i := range ids {
			data := make([]byte, n)
			rand.New(rand.NewSource(int64(i))).Read(data)
			var err error
			if ids[i], _, err = w.SaveBlob(ctx, blob.Data, data); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	l0, _ := c.r.Index().Lookup(ids[0])
	l1, _ := c.r.Index().Lookup(ids[1])
	if l0.Pack != l1.Pack {
		t.Fatal("the two blobs are in two cabinets")
	}
	root := c.tree(reviewFileNode("a", ids[:1], []uint32{n}), reviewFileNode("b", ids[1:], []uint32{n}))
	at := time.Date(2026, 11, 21, 10, 30, 5, 0, time.Local)
	c.session(root, at)
	p, pack := c.cabinet(ids[0])
	cut := max(l0.Offset+l0.Length, l1.Offset+l1.Length) - 10
	if err := os.Truncate(p, int64(cut)); err != nil {
		t.Fatal(err)
	}
	res, findings, err := c.check(context.Background(), CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := reviewFinding(t, findings, repo.PackName(pack))
	late := "/b"
	if l0.Offset > l1.Offset {
		late = "/a"
	}
	want := []string{"dev " + at.Format(snapshot.TimeLayout) + " " + late}
	if !f.Error || !slices.Equal(f.Files, want) || !strings.Contains(f.Message, "truncated") {
		t.Errorf("truncated cabinet: %+v, want files %q", f, want)
	}
	if res.Errors != 1 {
		t.Errorf("%d errors: %+v", res.Errors, findings)
	}
}

// TestReviewCheckUnindexedAfterDamagedIndex: with an index file damaged,
// the cabinets it listed are in no index; check called them harmless
// left-overs of an interrupted backup, which they are not.
func TestReviewCheckUnindexedAfterDamagedIndex(t *testing.T) {
	c := newReviewCheckRepo(t)
	b1, n1 := c.blob(1, 200<<10)
	c.session(c.tree(reviewFileNode("f", []blob.ID{b1}, []uint32{n1})), time.Now())
	_, pack := c.cabinet(b1)
	names, err := filepath.Glob(filepath.Join(c.dir, repo.IndexDir, "*"))
	if err != nil || len(names) == 0 {
		t.Fatal(names, err)
	}
	// Every index file is damaged: the one listing b1 among them.
	for _, p := range names {
		reviewFlipMiddle(t, p)
	}
	_, findings, err := c.check(context.Background(), CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := reviewFinding(t, findings, repo.PackName(pack))
	if strings.Contains(f.Message, "harmless") || !strings.Contains(f.Message, "damaged index") {
		t.Errorf("cabinet of a damaged index file: %+v", f)
	}
}

// reviewFlipMiddle flips a bit in the middle of the repository file p.
func reviewFlipMiddle(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	os.Chmod(p, 0o600)
	if err := os.WriteFile(p, data, 0o400); err != nil {
		t.Fatal(err)
	}
}
