package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/blob"
)

// repairGroup is what one Write stored: one data cabinet holding two
// blobs sealed alone and, after them, a bundle of three small ones.
type repairGroup struct {
	cabinet blob.ID
	ids     []blob.ID // the two large blobs, then the three bundled ones
	data    map[blob.ID][]byte
}

// newRepairRepo stores four groups, each in a cabinet of its own, with
// seeded random content.
func newRepairRepo(t *testing.T) (string, []repairGroup) {
	t.Helper()
	r, dir := newTestRepo(t)
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	var groups []repairGroup
	for range 4 {
		g := repairGroup{data: map[blob.ID][]byte{}}
		contents := [][]byte{random(200 << 10), random(300 << 10), random(4 << 10), random(5 << 10), random(6 << 10)}
		for _, id := range saveBlobs(t, r, contents...) {
			g.ids = append(g.ids, id)
		}
		for i, id := range g.ids {
			g.data[id] = contents[i]
			loc, ok := r.Index().Lookup(id)
			if !ok || (i > 0 && loc.Pack != g.cabinet) || loc.Bundled != (i >= 2) {
				t.Fatalf("blob %d of group %d: %+v, want one cabinet, the small ones bundled", i, len(groups), loc)
			}
			g.cabinet = loc.Pack
		}
		groups = append(groups, g)
	}
	return dir, groups
}

func openPlain(t *testing.T, dir string) *Repository {
	t.Helper()
	o, err := Open(context.Background(), local.New(dir), []byte("pw"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func cabinetPath(dir string, id blob.ID) string {
	return filepath.Join(dir, filepath.FromSlash(PackName(id)))
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(data))
	}
	data[off] ^= 0x40
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRebuildIndex damages one cabinet of four in each way a repository
// meets and checks that the rebuilt index holds exactly the blobs that
// still read, that every one of them loads with its content, that check
// then finds nothing wrong but left-overs, and that a second rebuild
// changes nothing.
func TestRebuildIndex(t *testing.T) {
	ctx := context.Background()
	type damage func(t *testing.T, dir string, g []repairGroup) (gone []blob.ID)
	cases := []struct {
		name     string
		readData bool
		damage   damage
		// unchanged: the first rebuild finds the index as it should be.
		unchanged bool
		lost      int
		// kept: the blobs damage returns stay indexed (unread).
		kept     bool
		salvaged int
	}{
		{name: "healthy", damage: func(*testing.T, string, []repairGroup) []blob.ID { return nil }, unchanged: true},
		{name: "healthy, read data", readData: true, damage: func(*testing.T, string, []repairGroup) []blob.ID { return nil }, unchanged: true},
		{name: "deleted cabinet", lost: 5, damage: func(t *testing.T, dir string, g []repairGroup) []blob.ID {
			os.Remove(cabinetPath(dir, g[1].cabinet))
			return g[1].ids
		}},
		{name: "truncated cabinet", lost: 4, salvaged: 1, damage: func(t *testing.T, dir string, g []repairGroup) []blob.ID {
			// The first blob (200 KiB) lies before the cut and is stored
			// again; the second and the bundle after it are lost.
			if err := os.Truncate(cabinetPath(dir, g[2].cabinet), 250<<10); err != nil {
				t.Fatal(err)
			}
			return g[2].ids[1:]
		}},
		{name: "damaged header", salvaged: 5, damage: func(t *testing.T, dir string, g []repairGroup) []blob.ID {
			// Every blob still reads at the old index's offsets.
			flipByte(t, cabinetPath(dir, g[0].cabinet), -20)
			return nil
		}},
		{name: "flipped byte in a blob", unchanged: true, kept: true, damage: func(t *testing.T, dir string, g []repairGroup) []blob.ID {
			// Without --read-data only headers are read: the blob stays.
			flipByte(t, cabinetPath(dir, g[3].cabinet), 1000)
			return g[3].ids[:1]
		}},
		{name: "flipped byte in a blob, read data", readData: true, lost: 1, salvaged: 4, damage: func(t *testing.T, dir string, g []repairGroup) []blob.ID {
			flipByte(t, cabinetPath(dir, g[3].cabinet), 1000)
			return g[3].ids[:1]
		}},
		{name: "flipped byte in a bundle, read data", readData: true, lost: 3, salvaged: 2, damage: func(t *testing.T, dir string, g []repairGroup) []blob.ID {
			// The bundle comes after the two large blobs: all three of
			// its blobs go with it.
			flipByte(t, cabinetPath(dir, g[3].cabinet), 500<<10+1000)
			return g[3].ids[2:]
		}},
		{name: "index files deleted", damage: func(t *testing.T, dir string, g []repairGroup) []blob.ID {
			os.RemoveAll(filepath.Join(dir, IndexDir))
			os.Mkdir(filepath.Join(dir, IndexDir), 0o700)
			return nil
		}},
		{name: "index files deleted, a cabinet damaged", damage: func(t *testing.T, dir string, g []repairGroup) []blob.ID {
			// A cabinet no index file lists is read whole: a damaged one
			// is not taken in, and none of its blobs were promised.
			os.RemoveAll(filepath.Join(dir, IndexDir))
			os.Mkdir(filepath.Join(dir, IndexDir), 0o700)
			flipByte(t, cabinetPath(dir, g[1].cabinet), 1000)
			return g[1].ids
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, groups := newRepairRepo(t)
			gone := tc.damage(t, dir, groups)
			oldFiles, _ := os.ReadDir(filepath.Join(dir, IndexDir))

			r := openPlain(t, dir)
			var progress []RebuildProgress
			res, err := r.RebuildIndex(ctx, RebuildOptions{ReadData: tc.readData, Progress: func(p RebuildProgress) { progress = append(progress, p) }})
			if err != nil {
				t.Fatal(err)
			}
			if res.Unchanged != tc.unchanged || res.BlobsLost != tc.lost || res.BlobsSalvaged != tc.salvaged {
				t.Errorf("result %+v: want unchanged %v, %d blobs lost, %d salvaged", res, tc.unchanged, tc.lost, tc.salvaged)
			}
			if n := len(progress); n != res.Cabinets || progress[n-1].Bytes != progress[n-1].BytesTotal {
				t.Errorf("progress %+v for %d cabinets", progress, res.Cabinets)
			}
			newFiles, _ := os.ReadDir(filepath.Join(dir, IndexDir))
			if tc.unchanged {
				if len(newFiles) != len(oldFiles) || res.IndexFilesWritten != 0 || res.IndexFilesRemoved != 0 {
					t.Errorf("an unchanged index was rewritten: %d files before, %d after, %+v", len(oldFiles), len(newFiles), res)
				}
			} else {
				for _, f := range oldFiles {
					if slices.ContainsFunc(newFiles, func(n os.DirEntry) bool { return n.Name() == f.Name() }) {
						t.Errorf("old index file %s was kept", f.Name())
					}
				}
				if res.IndexFilesRemoved != len(oldFiles) || res.IndexFilesWritten != len(newFiles) {
					t.Errorf("%+v: want %d removed, %d written", res, len(oldFiles), len(newFiles))
				}
			}

			// A fresh reader sees exactly the blobs that read.
			o := reopenIndexed(t, dir)
			for _, g := range groups {
				for _, id := range g.ids {
					got, err := o.LoadBlob(ctx, id, nil)
					switch want := !slices.Contains(gone, id); {
					case want && (err != nil || !bytes.Equal(got, g.data[id])):
						t.Errorf("blob %s: %v, want it intact", id.Short(), err)
					case !want && tc.kept && (!o.Index().Has(id) || err == nil):
						t.Errorf("damaged blob %s: %v, want it indexed, and damaged", id.Short(), err)
					case !want && !tc.kept && o.Index().Has(id):
						t.Errorf("blob %s is indexed, want it left out", id.Short())
					}
				}
			}
			var problems []Problem
			err = o.CheckStructure(ctx, func(p Problem) {
				if p.Severity == Error {
					problems = append(problems, p)
				}
			})
			if err != nil || len(problems) > 0 {
				t.Errorf("check after the rebuild: %v %+v", err, problems)
			}
			if tc.readData && !tc.unchanged {
				for _, p := range o.Index().Packs() {
					if damaged, err := o.ReadCabinet(ctx, p); err != nil {
						t.Errorf("check --read-data after the rebuild: %v %v", err, damaged)
					}
				}
			}

			again, err := openPlain(t, dir).RebuildIndex(ctx, RebuildOptions{ReadData: tc.readData})
			if err != nil || !again.Unchanged || again.BlobsLost != 0 {
				t.Errorf("second rebuild: %+v, %v; want it to change nothing", again, err)
			}
		})
	}
}

// TestRebuildIndexRefusesALoadedIndex: the rebuild fills the in-memory
// index; one loaded before would hide what it drops.
func TestRebuildIndexRefusesALoadedIndex(t *testing.T) {
	dir, _ := newRepairRepo(t)
	if _, err := reopenIndexed(t, dir).RebuildIndex(context.Background(), RebuildOptions{}); err == nil {
		t.Fatal("rebuild of a repository with its index loaded succeeded")
	}
}

// listHook runs after once, after the first listing of the index folder.
type listHook struct {
	backend.Backend
	after func()
	done  bool
}

func (h *listHook) List(ctx context.Context, dir string, fn func(backend.FileInfo) error) error {
	err := h.Backend.List(ctx, dir, fn)
	if dir == IndexDir && !h.done {
		h.done = true
		h.after()
	}
	return err
}

// TestRebuildIndexKeepsLaterIndexFiles: an index file written after the
// rebuild listed the old ones (a backup running at the same time) is not
// removed, and its blobs stay found.
func TestRebuildIndexKeepsLaterIndexFiles(t *testing.T) {
	ctx := context.Background()
	dir, groups := newRepairRepo(t)
	os.Remove(cabinetPath(dir, groups[0].cabinet))
	var late []blob.ID
	var lateFiles []string
	hook := &listHook{Backend: local.New(dir), after: func() {
		before, _ := os.ReadDir(filepath.Join(dir, IndexDir))
		w := openPlain(t, dir)
		late = saveBlobs(t, w, []byte(fmt.Sprintf("written during the rebuild %d", rand.Int())))
		after, _ := os.ReadDir(filepath.Join(dir, IndexDir))
		for _, f := range after {
			if !slices.ContainsFunc(before, func(b os.DirEntry) bool { return b.Name() == f.Name() }) {
				lateFiles = append(lateFiles, f.Name())
			}
		}
	}}
	r, err := Open(ctx, hook, []byte("pw"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.RebuildIndex(ctx, RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(lateFiles) != 1 {
		t.Fatalf("the write during the rebuild made index files %q, want one", lateFiles)
	}
	if _, err := os.Stat(filepath.Join(dir, IndexDir, lateFiles[0])); err != nil {
		t.Errorf("the index file written during the rebuild was removed: %v", err)
	}
	o := reopenIndexed(t, dir)
	if !o.Index().Has(late[0]) {
		t.Error("the blob of a backup that ran during the rebuild is no longer indexed")
	}
	if o.Index().Has(groups[0].ids[0]) || !o.Index().Has(groups[1].ids[0]) {
		t.Error("the rebuild did not take effect")
	}
}

// stopAfter lets n writes and deletions through and fails every later
// one, as if the process had been killed there.
type stopAfter struct {
	backend.Backend
	n, calls int
}

var errStopped = errors.New("stopped here")

func (s *stopAfter) Put(ctx context.Context, name string, data []byte) error {
	if s.calls++; s.calls > s.n {
		return errStopped
	}
	return s.Backend.Put(ctx, name, data)
}

func (s *stopAfter) Delete(ctx context.Context, name string) error {
	if s.calls++; s.calls > s.n {
		return errStopped
	}
	return s.Backend.Delete(ctx, name)
}

// TestRebuildIndexStoppedAnywhere stops a rebuild at each of its writes
// and deletions in turn (a kill there): each time the repository holds
// no finding but the damage it had, and a rebuild run then completes
// with the same index as one never stopped.
func TestRebuildIndexStoppedAnywhere(t *testing.T) {
	ctx := context.Background()
	for k := 0; ; k++ {
		dir, groups := newRepairRepo(t)
		os.Remove(cabinetPath(dir, groups[1].cabinet))
		if err := os.Truncate(cabinetPath(dir, groups[2].cabinet), 250<<10); err != nil {
			t.Fatal(err)
		}
		known := map[string]bool{PackName(groups[1].cabinet): true, PackName(groups[2].cabinet): true}
		s := &stopAfter{Backend: local.New(dir), n: k}
		r, err := Open(ctx, s, []byte("pw"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.RebuildIndex(ctx, RebuildOptions{})
		r.Close()
		if err == nil {
			if k < 3 {
				t.Fatalf("the rebuild made only %d writes and deletions", k)
			}
			t.Logf("stopped at each of %d writes and deletions", k)
			break
		}
		if !errors.Is(err, errStopped) {
			t.Fatalf("stopped after %d: %v", k, err)
		}
		o := reopenIndexed(t, dir)
		o.CheckStructure(ctx, func(p Problem) {
			if p.Severity == Error && !known[p.Object] {
				t.Errorf("stopped after %d: %+v", k, p)
			}
		})
		if _, err := openPlain(t, dir).RebuildIndex(ctx, RebuildOptions{}); err != nil {
			t.Fatalf("rebuild after a stop after %d: %v", k, err)
		}
		o = reopenIndexed(t, dir)
		o.CheckStructure(ctx, func(p Problem) {
			if p.Severity == Error {
				t.Errorf("stopped after %d, then rebuilt: %+v", k, p)
			}
		})
		for i, g := range groups {
			for j, id := range g.ids {
				want := i != 1 && !(i == 2 && j > 0)
				if o.Index().Has(id) != want {
					t.Errorf("stopped after %d, then rebuilt: blob %d of group %d indexed: %v", k, j, i, !want)
				}
			}
		}
	}
}
