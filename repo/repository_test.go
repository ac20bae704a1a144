package repo

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"

	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/repo/pack"
)

// cheapKDF keeps tests fast; real repositories use crypto.DefaultKDF.
var cheapKDF = crypto.KDFParams{Time: 1, Memory: 1024, Threads: 1}

func newTestRepo(t *testing.T) (*Repository, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := Create(context.Background(), local.New(dir), []byte("pw"), CreateOptions{Key: KeyOptions{KDF: cheapKDF}}, Options{CacheDir: filepath.Join(t.TempDir(), "cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir
}

// reopenIndexed opens the repository in dir again, as another process
// would, with its whole index loaded; it is closed when the test ends.
func reopenIndexed(t *testing.T, dir string) *Repository {
	t.Helper()
	ctx := context.Background()
	o, err := Open(ctx, local.New(dir), []byte("pw"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	if err := o.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	return o
}

func saveBlobs(t *testing.T, r *Repository, blobs ...[]byte) []blob.ID {
	t.Helper()
	ids := make([]blob.ID, len(blobs))
	_, err := r.Write(context.Background(), func(ctx context.Context, w *Writer) error {
		for i, b := range blobs {
			id, _, err := w.SaveBlob(ctx, blob.Data, b)
			if err != nil {
				return err
			}
			ids[i] = id
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestOpenWithPasswords(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	if _, err := r.AddKey(ctx, []byte("second"), KeyOptions{KDF: cheapKDF}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pw   string
		want error
	}{{"pw", nil}, {"second", nil}, {"wrong", ErrWrongPassword}} {
		t.Run(tc.pw, func(t *testing.T) {
			o, err := Open(ctx, local.New(dir), []byte(tc.pw), Options{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open(%q) = %v, want %v", tc.pw, err, tc.want)
			}
			if err == nil {
				o.Close()
			}
		})
	}
	if _, err := Open(ctx, local.New(filepath.Join(dir, "missing")), []byte("pw"), Options{}); !errors.Is(err, ErrNoRepository) {
		t.Fatalf("missing repository: %v", err)
	}
}

func TestUnknownVersionIsRefusedNamingBoth(t *testing.T) {
	_, dir := newTestRepo(t)
	cfg := filepath.Join(dir, ConfigFile)
	data, _ := os.ReadFile(cfg)
	os.Chmod(cfg, 0o600)
	os.WriteFile(cfg, bytes.Replace(data, fmt.Appendf(nil, `"format_version": %d`, FormatVersion), []byte(`"format_version": 7`), 1), 0o600)
	_, err := Open(context.Background(), local.New(dir), []byte("pw"), Options{})
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "version 7") || !strings.Contains(err.Error(), fmt.Sprintf("versions %d to %d", oldestVersion, FormatVersion)) {
		t.Fatalf("got %v", err)
	}
}

// TestFormatVersions creates a repository of each format this package
// writes and checks that its blobs get the ID hash of that format and its
// cabinets the name hash, read back after reopening, and pass a reading
// check.
func TestFormatVersions(t *testing.T) {
	ctx := context.Background()
	sha := func(b []byte) blob.ID { return sha256.Sum256(b) }
	for _, tc := range []struct {
		version int
		hash    crypto.IDHash
		name    func([]byte) blob.ID
	}{{2, crypto.IDHMACSHA256, sha}, {3, crypto.IDBLAKE3, sha}, {4, crypto.IDBLAKE3, func(b []byte) blob.ID { return blake3.Sum256(b) }}, {5, crypto.IDBLAKE3, func(b []byte) blob.ID { return blake3.Sum256(b) }}} {
		t.Run(fmt.Sprint(tc.version), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			r, err := Create(ctx, local.New(dir), []byte("pw"), CreateOptions{Key: KeyOptions{KDF: cheapKDF}, formatVersion: tc.version}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte("format "), 1000)
			id := saveBlobs(t, r, data)[0]
			r.Close()
			o, err := Open(ctx, local.New(dir), []byte("pw"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if v := o.Config().FormatVersion; v != tc.version {
				t.Fatalf("reopened as format %d, want %d", v, tc.version)
			}
			want, err := crypto.KeyFromMaster(o.Key().Master, tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			if id != blob.ID(want.ID(data)) {
				t.Fatalf("blob ID %s is not the format's hash of the data", id)
			}
			if err := o.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := o.LoadBlob(ctx, id, nil)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back: %v", err)
			}
			cabinets, err := o.Cabinets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for c := range cabinets {
				if damaged, err := o.ReadCabinet(ctx, c); err != nil || len(damaged) != 0 {
					t.Fatalf("reading check of cabinet %s: %v, damaged %v", c, err, damaged)
				}
				data, err := os.ReadFile(filepath.Join(dir, PackName(c)))
				if err != nil || tc.name(data) != c {
					t.Fatalf("cabinet %s is not named by the format's hash of its bytes: %v", c, err)
				}
			}
		})
	}
}

func TestBlobsRoundTripDedupAndReopen(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	blobs := [][]byte{[]byte("small"), bytes.Repeat([]byte("compressible "), 10000), make([]byte, 3<<20)}
	ids := saveBlobs(t, r, append(blobs, blobs[0])...)
	if ids[0] != ids[3] {
		t.Fatal("same content got two IDs")
	}
	o := reopenIndexed(t, dir)
	if o.Index().Len() != 3 {
		t.Fatalf("index has %d blobs, want 3", o.Index().Len())
	}
	for i, b := range blobs {
		got, err := o.LoadBlob(ctx, ids[i], nil)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("blob %d: %v", i, err)
		}
	}
}

func TestBitFlipInCabinetIsNamed(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	ids := saveBlobs(t, r, bytes.Repeat([]byte("a"), 5000))
	loc, _ := r.Index().Lookup(ids[0])
	p := filepath.Join(dir, filepath.FromSlash(PackName(loc.Pack)))
	data, _ := os.ReadFile(p)
	data[loc.Offset+20] ^= 0x40
	os.Chmod(p, 0o600)
	os.WriteFile(p, data, 0o600)
	r.be.(*local.Backend).Close()
	_, err := r.LoadBlob(ctx, ids[0], nil)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), loc.Pack.String()) {
		t.Fatalf("got %v, want ErrDamaged naming cabinet %s", err, loc.Pack)
	}
	damaged, err := r.ReadCabinet(ctx, loc.Pack)
	if err == nil || len(damaged) != 1 || damaged[0] != ids[0] {
		t.Fatalf("ReadCabinet: %v %v", damaged, err)
	}
}

// TestDamagedCabinetHeader: with its header unreadable, a cabinet's blobs
// are checked through the index files, which give their whole IDs (the
// in-memory index keeps only their Keys): intact blobs pass, a flipped
// one is named.
func TestDamagedCabinetHeader(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	// Too large for a bundle: each blob is sealed alone.
	ids := saveBlobs(t, r, bytes.Repeat([]byte("a"), BundleBlobMax), bytes.Repeat([]byte("b"), BundleBlobMax))
	loc, _ := r.Index().Lookup(ids[1])
	p := filepath.Join(dir, filepath.FromSlash(PackName(loc.Pack)))
	data, _ := os.ReadFile(p)
	data[len(data)-pack.TrailerSize()-5] ^= 0x40 // inside the sealed header
	os.Chmod(p, 0o600)
	os.WriteFile(p, data, 0o600)
	damaged, err := r.ReadCabinet(ctx, loc.Pack)
	if err == nil || !strings.Contains(err.Error(), "header") || len(damaged) != 0 {
		t.Fatalf("header flipped: ReadCabinet = %v, %v; want a header error and no damaged blob", damaged, err)
	}
	data[loc.Offset+20] ^= 0x40
	os.WriteFile(p, data, 0o600)
	damaged, err = r.ReadCabinet(ctx, loc.Pack)
	if err == nil || len(damaged) != 1 || damaged[0] != ids[1] {
		t.Fatalf("header and blob flipped: ReadCabinet = %v, %v; want blob %s", damaged, err, ids[1])
	}
}

// Concurrent SaveBlobs add to cabinets of their own: every blob is stored
// once, readable, and every cabinet but the last few open ones is full.
func TestConcurrentSaveBlob(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t)
	const writers, perWriter, size = 6, 24, 256 << 10
	blobs := make([][]byte, perWriter*writers/2) // each saved by two writers
	for i := range blobs {
		blobs[i] = make([]byte, size)
		rand.Read(blobs[i])
	}
	var stats WriteStats
	stats, err := r.Write(ctx, func(ctx context.Context, w *Writer) error {
		g, ctx := errgroup.WithContext(ctx)
		for k := range writers {
			g.Go(func() error {
				for i := range perWriter {
					if _, _, err := w.SaveBlob(ctx, blob.Data, blobs[(k/2*perWriter+i)%len(blobs)]); err != nil {
						return err
					}
				}
				return nil
			})
		}
		return g.Wait()
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Blobs != int64(len(blobs)) || r.Index().Len() != len(blobs) {
		t.Fatalf("stored %d blobs, index has %d; want %d", stats.Blobs, r.Index().Len(), len(blobs))
	}
	perCabinet := map[blob.ID]int{}
	for _, b := range blobs {
		loc, ok := r.Index().Lookup(r.key.ID(b))
		if !ok {
			t.Fatal("a blob is not in the index")
		}
		perCabinet[loc.Pack]++
		got, err := r.LoadBlob(ctx, r.key.ID(b), nil)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("blob in %s: %v", loc.Pack.Short(), err)
		}
	}
	full := DataCabinetSize / (size + crypto.Overhead + 1)
	var partial int
	for _, n := range perCabinet {
		if n < full {
			partial++
		}
	}
	if len(perCabinet) != stats.Cabinets || partial > writers {
		t.Fatalf("%d cabinets (%d in the stats), %d of them not full; want at most %d not full", len(perCabinet), stats.Cabinets, partial, writers)
	}
	if err := r.CheckStructure(ctx, func(p Problem) { t.Errorf("check: %+v", p) }); err != nil {
		t.Fatal(err)
	}
}

func TestCheckStructureFindsMissingCabinet(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	ids := saveBlobs(t, r, []byte("x"))
	loc, _ := r.Index().Lookup(ids[0])
	os.Remove(filepath.Join(dir, filepath.FromSlash(PackName(loc.Pack))))
	var errs []Problem
	if err := r.CheckStructure(ctx, func(p Problem) {
		if p.Severity == Error {
			errs = append(errs, p)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || len(errs[0].Blobs) != 1 || errs[0].Blobs[0] != ids[0] {
		t.Fatalf("problems: %+v, want one naming blob %s", errs, ids[0])
	}
	if damaged, err := r.ReadCabinet(ctx, loc.Pack); err == nil || len(damaged) != 1 || damaged[0] != ids[0] {
		t.Fatalf("ReadCabinet of the missing cabinet = %v, %v; want blob %s", damaged, err, ids[0])
	}
}

func TestKeyRemoveAndPasswd(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	if _, err := r.RemoveKey(ctx, r.KeyID()[:8]); err == nil {
		t.Fatal("removed the key in use")
	}
	if _, err := r.ChangePassword(ctx, []byte("new"), KeyOptions{KDF: cheapKDF}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, local.New(dir), []byte("pw"), Options{}); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("old password: %v", err)
	}
	o, err := Open(ctx, local.New(dir), []byte("new"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
}

func TestSessionsPerDevice(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t)
	for _, d := range []string{"laptop", "ann's PC/2", ".hidden"} {
		if _, err := r.PutSession(ctx, d, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	devs, err := r.Devices(ctx)
	if err != nil || len(devs) != 3 {
		t.Fatalf("devices %q %v", devs, err)
	}
	refs, _ := r.SessionRefs(ctx, "ann's PC/2")
	if len(refs) != 1 {
		t.Fatalf("refs %v", refs)
	}
	if _, err := r.GetSession(ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
}

func TestLocalBackendPutIsAtomic(t *testing.T) {
	dir := t.TempDir()
	be := local.New(dir)
	ctx := context.Background()
	if err := be.Put(ctx, "a/b", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := be.Get(ctx, "a/b", 1, 3)
	if err != nil || string(got) != "ell" {
		t.Fatalf("range get: %q %v", got, err)
	}
	if _, err := be.Get(ctx, "a/missing", 0, 0); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	tmp, _ := be.TempFiles()
	if len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}

func FuzzDecodeConfigHeader(f *testing.F) {
	f.Add([]byte(`{"format_version":1,"id":"0123456789abcdef0123456789abcdef","sealed":"AAAA"}`))
	f.Add([]byte(`{"format_version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := DecodeConfigHeader(data)
		if err == nil && cfg.FormatVersion != FormatVersion {
			t.Fatal("accepted another version")
		}
	})
}

func FuzzDecodeKeyFile(f *testing.F) {
	r, err := Create(context.Background(), local.New(f.TempDir()), []byte("pw"), CreateOptions{Key: KeyOptions{KDF: cheapKDF}}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	data, _, err := wrapKey(r.key, []byte("pw"), KeyOptions{KDF: cheapKDF})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := DecodeKeyFile(data)
		if err != nil {
			return
		}
		if kf.Params.Memory <= 4096 && kf.Params.Time <= 2 {
			kf.unwrap([]byte("pw"), crypto.IDBLAKE3) // must not panic
		}
	})
}

// TestLargeBlobDecodes stores a blob larger than any slice (the tree of a
// folder of a million entries is ~100 MB) and reads it back.
func TestLargeBlobDecodes(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 80 MB")
	}
	r, _ := newTestRepo(t)
	big := bytes.Repeat([]byte("entry "), 80<<20/6)
	var id blob.ID
	if _, err := r.Write(context.Background(), func(ctx context.Context, w *Writer) error {
		var err error
		id, _, err = w.SaveBlob(ctx, blob.Tree, big)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := r.LoadBlob(context.Background(), id, nil)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("80 MB blob: %v", err)
	}
}

func TestLooksRandom(t *testing.T) {
	random := make([]byte, 32<<10)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"random", random, true},
		{"text", bytes.Repeat([]byte("static int foo(void) { return 0; }\n"), 1000), false},
		{"zeros", make([]byte, 32<<10), false},
	} {
		if got := looksRandom(tc.data); got != tc.want {
			t.Errorf("%s: looksRandom = %v", tc.name, got)
		}
	}
}

// A blob's seal binds its type and ID: bytes sealed for one ID do not open
// as another, even with the right key (an index pointing at the wrong
// blob), and VerifyBlob re-hashes what opens.
func TestBlobSealBindsIDAndType(t *testing.T) {
	r, dir := newTestRepo(t)
	// Too large for a bundle: each blob is sealed alone.
	pad := bytes.Repeat([]byte{'.'}, BundleBlobMax)
	ids := saveBlobs(t, r, append([]byte("first blob"), pad...), append([]byte("second blob"), pad...))
	locA, _ := r.Index().Lookup(ids[0])
	locB, _ := r.Index().Lookup(ids[1])
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(PackName(locB.Pack))))
	if err != nil {
		t.Fatal(err)
	}
	sealedB := func() []byte { return bytes.Clone(data[locB.Offset : locB.Offset+locB.Length]) }
	if got, err := r.DecodeBlob(ids[1], locB, sealedB(), nil); err != nil || !bytes.HasPrefix(got, []byte("second blob.")) {
		t.Fatalf("DecodeBlob of the right ID: %.20q %v", got, err)
	}
	if got, err := r.VerifyBlob(ids[1], locB, sealedB(), nil); err != nil || !bytes.HasPrefix(got, []byte("second blob.")) {
		t.Fatalf("VerifyBlob of the right ID: %.20q %v", got, err)
	}
	wrongID := locB
	wrongID.RawLength = locA.RawLength
	if _, err := r.DecodeBlob(ids[0], wrongID, sealedB(), nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("blob B opened as blob A: %v", err)
	}
	wrongType := locB
	wrongType.Type = blob.Tree
	if _, err := r.DecodeBlob(ids[1], wrongType, sealedB(), nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("data blob opened as a tree: %v", err)
	}
}

// advisedBackend is the local backend that also records the ranges it is
// asked to fetch ahead.
type advisedBackend struct {
	*local.Backend
	ranges []string
}

func (b *advisedBackend) WillRead(ctx context.Context, name string, off, length int64) {
	b.ranges = append(b.ranges, fmt.Sprintf("%s@%d+%d", name[len(name)-8:], off, length))
	b.Backend.WillRead(ctx, name, off, length)
}

// TestWillLoadAsksForRuns: blobs that lie together in a cabinet are asked
// for as one range, in the order given; blobs out of order, tree blobs and
// unknown IDs start or skip runs.
func TestWillLoadAsksForRuns(t *testing.T) {
	ctx := context.Background()
	be := &advisedBackend{Backend: local.New(filepath.Join(t.TempDir(), "repo"))}
	r, err := Create(ctx, be, []byte("pw"), CreateOptions{Key: KeyOptions{KDF: cheapKDF}}, Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	blobs := make([][]byte, 4)
	for i := range blobs {
		blobs[i] = make([]byte, BundleBlobMax+i) // not bundled
		rand.Read(blobs[i])
	}
	ids := saveBlobs(t, r, blobs...)
	loc := make([]struct{ off, end int64 }, len(ids))
	var name string
	for i, id := range ids {
		l, ok := r.Index().Lookup(id)
		if !ok {
			t.Fatal("blob not indexed")
		}
		loc[i].off, loc[i].end = int64(l.Offset), int64(l.Offset+l.Length)
		name = PackName(l.Pack)
	}
	short := name[len(name)-8:]
	run := func(a, b int) string {
		return fmt.Sprintf("%s@%d+%d", short, min(loc[a].off, loc[b].off), max(loc[a].end, loc[b].end)-min(loc[a].off, loc[b].off))
	}
	// In cabinet order (the writer may have packed them in any order).
	order := []int{0, 1, 2, 3}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(loc[a].off, loc[b].off) })
	inOrder := []blob.ID{ids[order[0]], ids[order[1]], ids[order[2]], ids[order[3]]}
	be.ranges = nil
	r.WillLoad(ctx, inOrder)
	if want := run(order[0], order[3]); len(be.ranges) != 1 || be.ranges[0] != want {
		t.Fatalf("in cabinet order: asked for %v, want [%s]", be.ranges, want)
	}
	// Backwards: every blob starts a run of its own.
	be.ranges = nil
	r.WillLoad(ctx, []blob.ID{inOrder[3], inOrder[2], blob.ID{1}, inOrder[1]})
	if len(be.ranges) != 3 {
		t.Fatalf("backwards with an unknown ID: asked for %v, want 3 ranges", be.ranges)
	}
	// Alternating between two cabinets: one range in each.
	other := make([][]byte, 2)
	for i := range other {
		other[i] = make([]byte, 2000+i)
		rand.Read(other[i])
	}
	ids2 := saveBlobs(t, r, other...)
	l2, _ := r.Index().Lookup(ids2[0])
	if PackName(l2.Pack) == name {
		t.Fatal("two writes share a cabinet")
	}
	be.ranges = nil
	r.WillLoad(ctx, []blob.ID{inOrder[0], ids2[0], inOrder[1], ids2[1], inOrder[2], inOrder[3]})
	if len(be.ranges) != 2 || be.ranges[0] != run(order[0], order[3]) {
		t.Fatalf("alternating between two cabinets: asked for %v, want %s and one range of the other", be.ranges, run(order[0], order[3]))
	}
}

// TestLoadTreeIndex: LoadTreeIndex loads the tree blobs of each index file
// only, LoadIndex then the rest, each blob once, also for index files
// written in between.
func TestLoadTreeIndex(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	write := func(tag string) (data, tree blob.ID) {
		t.Helper()
		if _, err := r.Write(ctx, func(ctx context.Context, w *Writer) error {
			var err error
			if data, _, err = w.SaveBlob(ctx, blob.Data, []byte("data "+tag)); err != nil {
				return err
			}
			tree, _, err = w.SaveBlob(ctx, blob.Tree, []byte("tree "+tag))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return data, tree
	}
	d1, t1 := write("one")
	o, err := Open(ctx, local.New(dir), []byte("pw"), Options{CacheDir: filepath.Join(t.TempDir(), "cache")})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	has := func(want map[blob.ID]bool) {
		t.Helper()
		for id, w := range want {
			if o.Index().Has(id) != w {
				t.Fatalf("index has %s: %v, want %v", id.Short(), !w, w)
			}
		}
	}
	if err := o.LoadTreeIndex(ctx); err != nil {
		t.Fatal(err)
	}
	has(map[blob.ID]bool{t1: true, d1: false})
	d2, t2 := write("two") // a new index file, read by neither yet
	if err := o.LoadTreeIndex(ctx); err != nil {
		t.Fatal(err)
	}
	has(map[blob.ID]bool{t1: true, t2: true, d1: false, d2: false})
	d3, t3 := write("three")
	if err := o.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	has(map[blob.ID]bool{t1: true, t2: true, t3: true, d1: true, d2: true, d3: true})
	if n := o.Index().Len(); n != 6 {
		t.Fatalf("index holds %d blobs, want 6: one entry each", n)
	}
	if got, err := o.LoadBlob(ctx, d1, nil); err != nil || string(got) != "data one" {
		t.Fatalf("read back %q: %v", got, err)
	}
}

// TestDamagedIndexFileReportedOnce: LoadIndex skips a damaged index file,
// reports it, and neither reads nor reports it again on later calls (a
// mount loads the index on every refresh).
func TestDamagedIndexFileReportedOnce(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	saveBlobs(t, r, []byte("listed in a damaged index file"))
	names, err := r.ListIndexFiles(ctx)
	if err != nil || len(names) != 1 {
		t.Fatalf("index files %q: %v", names, err)
	}
	p := filepath.Join(dir, IndexDir, names[0])
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	warnings := 0
	o, err := Open(ctx, local.New(dir), []byte("pw"), Options{Warn: func(error) { warnings++ }})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for range 3 {
		if err := o.LoadIndex(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.LoadTreeIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if warnings != 1 || !slices.Equal(o.SkippedIndexFiles(), names) {
		t.Fatalf("%d warnings, skipped %q; want 1 warning for %q", warnings, o.SkippedIndexFiles(), names)
	}
}
