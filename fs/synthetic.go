package fs

import (
	"context"
	"fmt"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// The synthetic levels: root, <device>, files|persona, latest. They are
// built from the session list alone; no tree is read to list or stat them.

// LatestName is the name of the entry showing the newest session.
const LatestName = "latest"

func (f *FS) dirAttr(ino uint64, mtime int64, volatile bool) Attr {
	return Attr{Ino: ino, Type: snapshot.TypeDir, Perm: 0o555, Links: 1,
		UID: f.opts.UID, GID: f.opts.GID, Mtime: mtime, Volatile: volatile}
}

func notExist(path, name string) error {
	if path == "" {
		return fmt.Errorf("%s: %w", name, ErrNotExist)
	}
	return fmt.Errorf("%s/%s: %w", path, name, ErrNotExist)
}

type rootDir struct{ f *FS }

var _ Dir = (*rootDir)(nil)

func (d *rootDir) Attr() Attr { return d.f.dirAttr(rootIno, d.f.start, true) }

func (d *rootDir) Lookup(ctx context.Context, name string) (Node, error) {
	d.f.lookups.Add(1)
	if IsProbe(name) {
		return nil, notExist("", name)
	}
	dv := d.f.view(ctx).byName[name]
	if dv == nil {
		return nil, notExist("", name)
	}
	return &deviceDir{f: d.f, dv: dv}, nil
}

func (d *rootDir) Readdir(ctx context.Context) ([]Entry, error) {
	d.f.readdirs.Add(1)
	v := d.f.view(ctx)
	out := make([]Entry, len(v.devices))
	for i, dv := range v.devices {
		out[i] = Entry{Name: dv.name, Node: &deviceDir{f: d.f, dv: dv}}
	}
	return out, nil
}

type deviceDir struct {
	f  *FS
	dv *deviceView
}

var _ Dir = (*deviceDir)(nil)

func (d *deviceDir) Attr() Attr { return d.f.dirAttr(d.dv.ino, d.f.start, true) }

// current returns the device as the newest session list shows it (the
// node may come from an older one).
func (d *deviceDir) current(ctx context.Context) *deviceView {
	if dv := d.f.view(ctx).byName[d.dv.name]; dv != nil {
		return dv
	}
	return d.dv
}

func (d *deviceDir) Lookup(ctx context.Context, name string) (Node, error) {
	d.f.lookups.Add(1)
	for i, src := range sources {
		if name == src {
			return &sourceDir{f: d.f, device: d.dv.name, i: i, sv: d.current(ctx).sources[i]}, nil
		}
	}
	return nil, notExist(d.dv.name, name)
}

func (d *deviceDir) Readdir(ctx context.Context) ([]Entry, error) {
	d.f.readdirs.Add(1)
	dv := d.current(ctx)
	out := make([]Entry, len(sources))
	for i, src := range sources {
		out[i] = Entry{Name: src, Node: &sourceDir{f: d.f, device: d.dv.name, i: i, sv: dv.sources[i]}}
	}
	return out, nil
}

type sourceDir struct {
	f      *FS
	device string
	i      int
	sv     *sourceView
}

var _ Dir = (*sourceDir)(nil)

func (d *sourceDir) Attr() Attr {
	mtime := d.f.start
	if n := len(d.sv.sessions); n > 0 {
		mtime = d.sv.sessions[n-1].s.Time.UnixNano()
	}
	return d.f.dirAttr(d.sv.ino, mtime, true)
}

func (d *sourceDir) current(ctx context.Context) *sourceView {
	if dv := d.f.view(ctx).byName[d.device]; dv != nil {
		return dv.sources[d.i]
	}
	return d.sv
}

func (d *sourceDir) Lookup(ctx context.Context, name string) (Node, error) {
	d.f.lookups.Add(1)
	if IsProbe(name) {
		return nil, notExist(d.sv.path, name)
	}
	sv := d.current(ctx)
	if name == LatestName {
		if n := latestNode(d.f, sv); n != nil {
			return n, nil
		}
		return nil, notExist(sv.path, name)
	}
	si := sv.byName[name]
	if si == nil {
		return nil, notExist(sv.path, name)
	}
	return d.f.sessionDir(si, si.ino, si.path), nil
}

func (d *sourceDir) Readdir(ctx context.Context) ([]Entry, error) {
	d.f.readdirs.Add(1)
	sv := d.current(ctx)
	out := make([]Entry, 0, len(sv.sorted)+1)
	latest := latestNode(d.f, sv)
	for _, si := range sv.sorted {
		if latest != nil && si.name > LatestName {
			out = append(out, Entry{Name: LatestName, Node: latest})
			latest = nil
		}
		out = append(out, Entry{Name: si.name, Node: d.f.sessionDir(si, si.ino, si.path)})
	}
	if latest != nil {
		out = append(out, Entry{Name: LatestName, Node: latest})
	}
	return out, nil
}

// latestNode returns the latest entry of sv: a symlink to the newest
// session's name, or (LatestAsDir) a directory in its own inode range.
func latestNode(f *FS, sv *sourceView) Node {
	n := len(sv.sessions)
	if n == 0 {
		return nil
	}
	si := sv.sessions[n-1]
	if f.opts.LatestAsDir {
		return f.sessionDir(si, inoOf(sv.ino, 'L', si.s.Ref.Name), sv.path+"/"+LatestName)
	}
	return &latestLink{f: f, si: si, ino: inoOf(sv.ino, 'l', si.s.Ref.Name)}
}

type latestLink struct {
	f   *FS
	si  *sessionInfo
	ino uint64
}

var _ Symlink = (*latestLink)(nil)

func (l *latestLink) Attr() Attr {
	return Attr{Ino: l.ino, Type: snapshot.TypeSymlink, Perm: 0o777, Size: uint64(len(l.si.name)), Links: 1,
		UID: l.f.opts.UID, GID: l.f.opts.GID, Mtime: l.si.s.Time.UnixNano(), Volatile: true}
}

func (l *latestLink) Readlink(context.Context) (string, error) { return l.si.name, nil }

// sessionDir returns the folder of a session: its root tree (the backed-up
// absolute paths for "files", the persona folder for "persona"). The
// folder itself is volatile, since forget may remove it while mounted;
// everything inside it is not.
func (f *FS) sessionDir(si *sessionInfo, ino uint64, path string) *treeDir {
	a := f.dirAttr(ino, si.s.Time.UnixNano(), true)
	return &treeDir{f: f, id: si.s.Tree, attr: a, path: path, linkSeed: ino}
}
