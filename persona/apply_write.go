package persona

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

func (a *applier) ensureUndo() error {
	if a.undo != nil {
		return nil
	}
	// The undo folder is usually in the home: never through a link out of it.
	if err := a.checkLinks(a.opts.UndoDir, true); err != nil {
		return &undoError{err}
	}
	u, err := newUndoWriter(a.opts.UndoDir, a.opts.Now(), undoHeader{
		Format: FormatVersion, Home: a.opts.Home, Persona: a.m.Summary(), From: a.opts.From,
	}, homeOwner(a.opts.Home, *a.opts.Root))
	if err != nil {
		return err
	}
	a.undo = u
	return nil
}

// execute writes one entry's plan. Per-item failures are reported in the
// entry; an error returned means the undo journal could not be written.
func (a *applier) execute(ctx context.Context, p *entryPlan) error {
	if len(p.dirs)+len(p.files)+len(p.exports) == 0 {
		return nil
	}
	if err := a.ensureUndo(); err != nil {
		return err
	}
	owner := homeOwner(a.opts.Home, *a.opts.Root)
	for _, d := range p.dirs {
		if d.create {
			created, err := a.mkdirAll(d.dst, d.mode, owner)
			if err != nil {
				if isUndoErr(err) {
					return err
				}
				p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: d.dst, Reason: err.Error()})
				continue
			}
			if created {
				p.changed++
				p.res.Actions = append(p.res.Actions, Action{Op: "mkdir", Path: d.dst, Detail: fmt.Sprintf("%04o", d.mode)})
			}
			continue
		}
		if err := a.checkLinks(d.dst, true); err != nil {
			p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: d.dst, Reason: err.Error()})
			continue
		}
		if err := a.undo.record(undoRecord{Op: "chmod", Path: d.dst, Mode: uint32(d.oldMode)}); err != nil {
			return err
		}
		if err := a.chmod(d.dst, d.mode); err != nil {
			p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: d.dst, Reason: err.Error()})
			continue
		}
		p.changed++
		p.res.Actions = append(p.res.Actions, Action{Op: "chmod", Path: d.dst, Detail: fmt.Sprintf("%04o", d.mode)})
	}
	for _, f := range p.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		act, err := a.writeFile(f, owner)
		if err != nil {
			if isUndoErr(err) {
				return err
			}
			p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: f.dst, Reason: err.Error()})
			continue
		}
		if act != nil {
			p.changed++
			p.res.Actions = append(p.res.Actions, *act)
		}
	}
	for _, x := range p.exports {
		act, err := a.applyExport(ctx, x, owner)
		if err != nil {
			if isUndoErr(err) {
				return err
			}
			p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: x.rec.Kind + " " + x.rec.Key, Reason: err.Error()})
			continue
		}
		p.changed++
		p.res.Actions = append(p.res.Actions, act...)
	}
	if p.changed > 0 && p.rec.Entry.Reload == ReloadNetworkManager {
		if _, err := a.opts.Runner.Run(ctx, Command{Name: "nmcli", Args: []string{"connection", "reload"}}); err != nil {
			a.rep.Warnings = append(a.rep.Warnings, fmt.Sprintf("%s: nmcli connection reload: %v", p.rec.Entry.ID, err))
		} else {
			p.res.Actions = append(p.res.Actions, Action{Op: "reload", Path: "NetworkManager"})
		}
	}
	return nil
}

// mkdirAll creates dst and missing parents, journaling each created
// folder. A path of the home that leads through a symbolic link out of
// the home is refused.
func (a *applier) mkdirAll(dst string, mode fs.FileMode, owner *fileOwner) (bool, error) {
	if err := a.checkLinks(dst, true); err != nil {
		return false, err
	}
	return a.mkdirParents(dst, mode, owner)
}

func (a *applier) mkdirParents(dst string, mode fs.FileMode, owner *fileOwner) (bool, error) {
	st, err := os.Stat(dst)
	if err == nil {
		if !st.IsDir() {
			return false, fmt.Errorf("%s: %w", dst, errNotDir)
		}
		return false, nil
	}
	parent := filepath.Dir(dst)
	if parent != dst {
		if _, err := a.mkdirParents(parent, 0o755, owner); err != nil {
			return false, err
		}
	}
	if err := a.undo.record(undoRecord{Op: "mkdir", Path: dst}); err != nil {
		return false, err
	}
	if err := os.Mkdir(dst, mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Made by someone else since the Stat: the record above is
			// cancelled, so undo leaves the folder alone.
			if err := a.undo.record(undoRecord{Op: "mkdir", Path: dst, Existed: true}); err != nil {
				return false, err
			}
			return false, nil
		}
		return false, err
	}
	if err := os.Chmod(dst, mode); err != nil {
		return true, err
	}
	owner.chown(dst)
	return true, nil
}

func (a *applier) writeFile(f *fileOp, owner *fileOwner) (*Action, error) {
	if f.op == "chmod" {
		if err := a.checkLinks(f.dst, true); err != nil {
			return nil, err
		}
		if err := a.undo.record(undoRecord{Op: "chmod", Path: f.dst, Mode: uint32(f.oldMode)}); err != nil {
			return nil, err
		}
		if err := a.chmod(f.dst, f.mode); err != nil {
			return nil, err
		}
		return &Action{Op: "chmod", Path: f.dst, Detail: fmt.Sprintf("%04o", f.mode)}, nil
	}
	err := a.writeTo(f.dst, f, owner)
	if err == nil || isUndoErr(err) || !f.rec.PST || errors.Is(err, errLinkOutsideHome) {
		if err != nil {
			return nil, err
		}
		return &Action{Op: f.op, Path: f.dst}, nil
	}
	// A PST goes back to its original path; when that cannot be written,
	// to the Desktop as restore.pst.
	orig := f.dst
	dst := filepath.Join(a.opts.Home, "Desktop", "restore.pst")
	if st, serr := os.Lstat(dst); serr == nil && st.Mode().IsRegular() && fileSum(dst) == f.sum {
		return nil, nil
	} else if serr == nil {
		alt, same := keepBothName(dst, f.sum)
		if same {
			return nil, nil
		}
		dst = alt
	}
	if _, err := a.mkdirAll(filepath.Dir(dst), 0o755, owner); err != nil {
		return nil, err
	}
	if err2 := a.writeTo(dst, f, owner); err2 != nil {
		return nil, fmt.Errorf("%s: %v; Desktop fallback: %w", orig, err, err2)
	}
	return &Action{Op: "restore-pst", Path: dst, Detail: fmt.Sprintf("original path %s not writable: %v", orig, err)}, nil
}

// writeTo saves what dst holds into the undo set, then replaces it. All
// of it goes by name inside dst's folder, opened once (see openDir).
func (a *applier) writeTo(dst string, f *fileOp, owner *fileOwner) error {
	if _, err := a.mkdirAll(filepath.Dir(dst), 0o755, owner); err != nil {
		return err
	}
	dir, err := a.openDir(filepath.Dir(dst))
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer dir.Close()
	base := filepath.Base(dst)
	if err := a.undo.saveBefore(dir, dst); err != nil {
		return err
	}
	tmp, tmpName, err := createTemp(dir, base)
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer dir.Remove(tmpName) // fails once renamed
	if f.data != nil {
		_, err = tmp.Write(f.data)
	} else {
		var in *os.File
		in, err = os.Open(f.src)
		if err == nil {
			_, err = io.Copy(tmp, in)
			in.Close()
		}
	}
	if err == nil {
		err = syncFile(tmp) // the content is on disk before it replaces dst
	}
	if err == nil {
		// Attributes before the mode: a user's attributes need write
		// access, which a read-only mode takes away.
		if xerr := writeFileXattrs(tmp, f.rec.Xattrs); xerr != nil {
			err = fmt.Errorf("extended attributes of %s: %w", dst, xerr)
		}
	}
	if err == nil {
		err = tmp.Chmod(f.mode)
	}
	if err == nil {
		owner.chownFile(tmp)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if !f.modTime.IsZero() {
		_ = dir.Chtimes(tmpName, f.modTime, f.modTime)
	}
	if err := dir.Rename(tmpName, base); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	syncDir(filepath.Dir(dst))
	return nil
}

// chmod changes the mode of p through its folder (see openDir).
func (a *applier) chmod(p string, mode fs.FileMode) error { return a.dirs.chmod(p, mode) }

// chmod changes the mode of p through its folder (see open).
func (h *homeDirs) chmod(p string, mode fs.FileMode) error {
	dir, err := h.open(filepath.Dir(p))
	if err != nil {
		return err
	}
	defer dir.Close()
	base := filepath.Base(p)
	if st, err := dir.Lstat(base); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		// A link to a folder of the home: the Root of its parent would
		// not follow it (absolute, or leading out of the parent); the
		// folder it leads to is opened from its real path instead.
		d, err := h.open(p)
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Chmod(".", mode)
	}
	return dir.Chmod(base, mode)
}

// syncFile flushes a file to disk; syncDir flushes a folder's entries
// (a rename), ignoring errors where folders cannot be synced (Windows).
// Tests replace them to check the order of writes.
var (
	syncFile = func(f *os.File) error { return f.Sync() }
	syncDir  = func(dir string) {
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
)
