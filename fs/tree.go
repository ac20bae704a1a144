package fs

import (
	"context"
	"fmt"
	"math"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// loadedTree is a tree blob shared by every folder with that ID, kept
// encoded (snapshot.Listing): a folder of a million one-slice files is
// 76 MB so and was 310 MB decoded.
type loadedTree struct {
	l    *snapshot.Listing
	cost int64
}

// treeDir is a folder inside a session: a session's root or a backed-up
// directory. Its attributes come from the parent's tree; its own tree is
// loaded on the first Lookup or Readdir.
type treeDir struct {
	f        *FS
	id       blob.ID
	attr     Attr
	path     string // "<device>/files/<session>/tmp/x", for messages
	linkSeed uint64 // the session folder's inode number, seeds hard links
}

var _ PartDir = (*treeDir)(nil)

func (d *treeDir) Attr() Attr { return d.attr }

// load returns the folder's decoded tree from the tree LRU, reading it
// if needed. Nodes never hold trees themselves, so the LRU bounds them.
func (d *treeDir) load(ctx context.Context) (*loadedTree, error) {
	lt, err := d.f.trees.get(ctx, d.id, func(ctx context.Context) (*loadedTree, error) {
		d.f.treeLoads.Add(1)
		l, err := snapshot.LoadListing(ctx, d.f.r, d.id)
		if err != nil {
			return nil, err
		}
		return &loadedTree{l: l, cost: 64 + int64(l.Size())}, nil
	})
	if err != nil {
		if ctx.Err() == nil {
			d.f.opts.Logf("mount: %s: %v", d.path, err)
		}
		return nil, fmt.Errorf("%s: %w", d.path, err)
	}
	return lt, nil
}

func (d *treeDir) Lookup(ctx context.Context, name string) (Node, error) {
	d.f.lookups.Add(1)
	lt, err := d.load(ctx)
	if err != nil {
		return nil, err
	}
	i := lt.l.Find(name)
	if i < 0 {
		i = findNormalized(lt.l, name)
	}
	if i < 0 {
		return nil, notExist(d.path, name)
	}
	return d.child(lt.l, i), nil
}

func (d *treeDir) Readdir(ctx context.Context) ([]Entry, error) {
	ents, _, err := d.ReaddirPart(ctx, 0, math.MaxInt)
	return ents, err
}

func (d *treeDir) ReaddirPart(ctx context.Context, start, n int) ([]Entry, int, error) {
	if start == 0 {
		d.f.readdirs.Add(1) // a listing, however many parts it is read in
	}
	lt, err := d.load(ctx)
	if err != nil {
		return nil, 0, err
	}
	total := lt.l.Len()
	start = min(max(start, 0), total)
	return d.entries(lt, start, start+min(n, total-start)), total, nil
}

// entries builds the folder's entries start to end, in one allocation per
// node kind.
func (d *treeDir) entries(lt *loadedTree, start, end int) []Entry {
	l := lt.l
	out := make([]Entry, end-start)
	var nf, nd int
	for i := start; i < end; i++ {
		switch l.Type(i) {
		case snapshot.TypeFile:
			nf++
		case snapshot.TypeDir:
			nd++
		}
	}
	files := make([]fileNode, 0, nf)
	dirs := make([]treeDir, 0, nd)
	for i := start; i < end; i++ {
		n, holes := d.meta(l, i)
		var node Node
		switch n.Type {
		case snapshot.TypeFile:
			a := d.attrOf(&n)
			a.Holes = holes
			files = append(files, newFileNode(d, i, a))
			node = &files[len(files)-1]
		case snapshot.TypeDir:
			dirs = append(dirs, treeDir{f: d.f, id: n.Subtree, attr: d.attrOf(&n), path: d.path + "/" + n.Name, linkSeed: d.linkSeed})
			node = &dirs[len(dirs)-1]
		default:
			node = d.childOf(&n, i, 0)
		}
		out[i-start] = Entry{Name: strings.Clone(n.Name), Node: node}
	}
	return out
}

// findNormalized retries a missed name in the other Unicode normal form:
// macOS hands decomposed (NFD) names to file systems, Linux and Windows
// store composed (NFC) ones (rclone vfs/vfs.md).
func findNormalized(l *snapshot.Listing, name string) int {
	for _, f := range []norm.Form{norm.NFC, norm.NFD} {
		if alt := f.String(name); alt != name {
			if i := l.Find(alt); i >= 0 {
				return i
			}
		}
	}
	return -1
}

// child returns the node of entry i of the folder's tree.
func (d *treeDir) child(l *snapshot.Listing, i int) Node {
	n, holes := d.meta(l, i)
	return d.childOf(&n, i, holes)
}

// meta decodes entry i without its slice list, and gives the bytes of a
// file's slices of zeros (holes.go).
func (d *treeDir) meta(l *snapshot.Listing, i int) (snapshot.Node, uint64) {
	if l.Type(i) != snapshot.TypeFile {
		return l.Meta(i), 0
	}
	id, size := d.f.zeroSlice()
	n, zeros := l.MetaCounting(i, id, size)
	return n, uint64(zeros) * uint64(size)
}

// childOf returns the node of n, entry i of the folder's tree. The node
// keeps no string of n (they share the listing's memory).
func (d *treeDir) childOf(n *snapshot.Node, i int, holes uint64) Node {
	a := d.attrOf(n)
	a.Holes = holes
	switch n.Type {
	case snapshot.TypeDir:
		return &treeDir{f: d.f, id: n.Subtree, attr: a, path: d.path + "/" + n.Name, linkSeed: d.linkSeed}
	case snapshot.TypeFile:
		f := newFileNode(d, i, a)
		return &f
	case snapshot.TypeSymlink:
		return &symlinkNode{target: strings.Clone(n.Target), attr: a}
	}
	return &specialNode{attr: a}
}

// attrOf gives a tree entry's attributes. Directories report one link (find
// and du must not rely on link counts of FUSE folders); hard-linked files
// share an inode number within their session.
func (d *treeDir) attrOf(n *snapshot.Node) Attr {
	a := Attr{Ino: inoOf(d.attr.Ino, 'e', n.Name), Type: n.Type, Perm: n.Mode & 0o7777, Size: n.Size,
		Links: 1, UID: n.UID, GID: n.GID, Mtime: n.ModTime, Rdev: n.Rdev}
	switch n.Type {
	case snapshot.TypeDir:
		a.Size = 0
	case snapshot.TypeSymlink:
		a.Size = uint64(len(n.Target))
		a.Perm = 0o777
	case snapshot.TypeFile:
		if n.Links > 1 {
			a.Links = n.Links
			if n.Inode != 0 {
				a.Ino = hardLinkIno(d.linkSeed, n.DeviceID, n.Inode)
			}
		}
	}
	return a
}

type symlinkNode struct {
	target string
	attr   Attr
}

var _ Symlink = (*symlinkNode)(nil)

func (l *symlinkNode) Attr() Attr                               { return l.attr }
func (l *symlinkNode) Readlink(context.Context) (string, error) { return l.target, nil }

// specialNode is a device node, FIFO or socket: attributes only.
type specialNode struct{ attr Attr }

func (s *specialNode) Attr() Attr { return s.attr }
