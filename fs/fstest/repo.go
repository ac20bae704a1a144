package fstest

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/chunker"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// Password protects the repositories NewRepo creates.
const Password = "fstest-password"

// NewRepo creates a repository in dir with a cheap KDF and small slices
// (64 KiB average, so a few MiB already make many slices).
func NewRepo(t testing.TB, dir string) *repo.Repository {
	t.Helper()
	r, err := repo.Create(context.Background(), local.New(dir), []byte(Password), repo.CreateOptions{
		Key:     repo.KeyOptions{KDF: crypto.KDFParams{Time: 1, Memory: 1024, Threads: 1}},
		Chunker: chunker.Sizes{Min: 16 << 10, Avg: 64 << 10, Max: 256 << 10},
	}, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// OpenRepo opens a repository NewRepo created.
func OpenRepo(t testing.TB, dir string) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), local.New(dir), []byte(Password), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Backup stores a session of device at time when, the way the engine
// does: for source "files", paths are absolute and the root tree holds
// them with their parent folders; for "persona", paths is one folder whose
// contents become the root tree.
func Backup(t testing.TB, r *repo.Repository, device, source string, when time.Time, paths ...string) *snapshot.Session {
	t.Helper()
	ctx := context.Background()
	var root blob.ID
	_, err := r.Write(ctx, func(ctx context.Context, w *repo.Writer) error {
		var err error
		if source == snapshot.SourcePersona {
			root, err = saveDir(ctx, r, w, paths[0])
			return err
		}
		root, err = saveRoots(ctx, r, w, "/", paths)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &snapshot.Session{Device: device, Source: source, Time: when, Paths: paths, Tree: root,
		Status: snapshot.StatusCompleted, OS: "linux", Hostname: device}
	if err := snapshot.SaveSession(ctx, r, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Isolate stores the slices of file path in a write of their own. Small
// slices are bundled with whatever else a write stores; stored apart, a
// later Backup finds them and stores them no more, so Corrupt on one of
// them damages this file and no other.
func Isolate(t testing.TB, r *repo.Repository, path string) {
	t.Helper()
	_, err := r.Write(context.Background(), func(ctx context.Context, w *repo.Writer) error {
		_, err := saveNode(ctx, r, w, path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// saveRoots stores the tree of folder dir holding only the parts of paths
// below it.
func saveRoots(ctx context.Context, r *repo.Repository, w *repo.Writer, dir string, paths []string) (blob.ID, error) {
	children := map[string][]string{}
	whole := map[string]bool{}
	for _, p := range paths {
		rel := strings.TrimPrefix(filepath.Clean(p), dir)
		rel = strings.TrimPrefix(rel, "/")
		name, _, more := strings.Cut(rel, "/")
		children[name] = append(children[name], p)
		if !more {
			whole[name] = true
		}
	}
	var tree snapshot.Tree
	for name, ps := range children {
		full := filepath.Join(dir, name)
		var n snapshot.Node
		var err error
		if whole[name] {
			n, err = saveNode(ctx, r, w, full)
		} else {
			n, err = nodeOf(full)
			if err == nil {
				n.Subtree, err = saveRoots(ctx, r, w, full, ps)
			}
		}
		if err != nil {
			return blob.ID{}, err
		}
		tree.Nodes = append(tree.Nodes, n)
	}
	tree.Sort()
	return snapshot.SaveTree(ctx, w, &tree)
}

func saveDir(ctx context.Context, r *repo.Repository, w *repo.Writer, dir string) (blob.ID, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return blob.ID{}, err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	tree := snapshot.Tree{Nodes: make([]snapshot.Node, 0, len(ents))}
	for _, e := range ents {
		n, err := saveNode(ctx, r, w, filepath.Join(dir, e.Name()))
		if err != nil {
			return blob.ID{}, err
		}
		tree.Nodes = append(tree.Nodes, n)
	}
	return snapshot.SaveTree(ctx, w, &tree)
}

func saveNode(ctx context.Context, r *repo.Repository, w *repo.Writer, path string) (snapshot.Node, error) {
	n, err := nodeOf(path)
	if err != nil {
		return n, err
	}
	switch n.Type {
	case snapshot.TypeDir:
		n.Subtree, err = saveDir(ctx, r, w, path)
	case snapshot.TypeFile:
		err = saveContent(ctx, r, w, path, &n)
	}
	return n, err
}

func saveContent(ctx context.Context, r *repo.Repository, w *repo.Writer, path string, n *snapshot.Node) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c := chunker.New(r.Chunker(), f, nil)
	var buf []byte
	n.Size = 0
	for {
		buf, err = c.Next(buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		id, _, err := w.SaveBlob(ctx, blob.Data, buf)
		if err != nil {
			return err
		}
		n.Content = append(n.Content, id)
		n.Sizes = append(n.Sizes, uint32(len(buf)))
		n.Size += uint64(len(buf))
	}
}

func nodeOf(path string) (snapshot.Node, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return snapshot.Node{}, err
	}
	n := snapshot.Node{Name: filepath.Base(path), Type: snapshot.TypeOf(fi.Mode()), Mode: snapshot.ModeBits(fi.Mode()), ModTime: fi.ModTime().UnixNano()}
	switch n.Type {
	case snapshot.TypeFile:
		n.Size = uint64(fi.Size())
	case snapshot.TypeSymlink:
		if n.Target, err = os.Readlink(path); err != nil {
			return n, err
		}
	}
	fillSys(&n, fi)
	return n, nil
}

// Corrupt flips one byte in the stored (sealed) bytes of blob id, so
// reading it fails authentication.
func Corrupt(t testing.TB, r *repo.Repository, repoDir string, id blob.ID) {
	t.Helper()
	loc, ok := r.Index().Lookup(id)
	if !ok {
		t.Fatalf("blob %s not in the index", id.Short())
	}
	p := filepath.Join(repoDir, filepath.FromSlash(repo.PackName(loc.Pack)))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	off := int64(loc.Offset) + int64(loc.Length)/2
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// FindNode returns the node at path (slash-separated, absolute paths
// allowed) below tree root.
func FindNode(t testing.TB, r *repo.Repository, root blob.ID, path string) *snapshot.Node {
	t.Helper()
	n, err := snapshot.FindPath(context.Background(), r, root, filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
