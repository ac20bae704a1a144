package persona

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// An undo set is a folder <UndoDir>/<time>/ holding journal.jsonl (a
// header line, then one record per change, each written before the change
// is made) and saved/<n>: the content of every overwritten file and the
// state of every native export before it was imported.

const journalName = "journal.jsonl"

// ErrNoUndo is returned by Undo when there is no undo set.
var ErrNoUndo = errors.New("no persona apply to undo")

type undoHeader struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	Home    string    `json:"home"`
	Persona string    `json:"persona"`
	From    string    `json:"from"`
}

type undoRecord struct {
	// Op: file, mkdir, chmod, dconf, reg, defaults, printer, printer-default.
	// A mkdir with Existed cancels the mkdir record of its path before it.
	Op      string            `json:"op"`
	Path    string            `json:"path,omitempty"`
	Key     string            `json:"key,omitempty"`
	Existed bool              `json:"existed,omitempty"`
	Saved   string            `json:"saved,omitempty"`
	Mode    uint32            `json:"mode,omitempty"`
	ModTime time.Time         `json:"mtime,omitzero"`
	Link    string            `json:"link,omitempty"`
	Xattrs  map[string][]byte `json:"xattrs,omitempty"`
	// Owner is the file's owner (uid, gid) before the apply, given back
	// when undo runs as root: a file root put back would otherwise belong
	// to root, and its user could no longer change it.
	Owner *[2]int `json:"owner,omitempty"`
}

type undoWriter struct {
	dir string
	f   *os.File
	n   int
}

// undoError marks failures to write the undo set: they stop the apply.
type undoError struct{ err error }

func (e *undoError) Error() string { return "persona undo set: " + e.err.Error() }
func (e *undoError) Unwrap() error { return e.err }

func isUndoErr(err error) bool {
	var u *undoError
	return errors.As(err, &u)
}

// newUndoWriter starts an undo set in root; missing folders leading to
// it are created for owner (the home's owner when root applies to another
// user's home: a root-owned ~/.local would lock the user out).
func newUndoWriter(root string, now time.Time, h undoHeader, owner *fileOwner) (*undoWriter, error) {
	if err := mkdirOwned(root, 0o700, owner); err != nil {
		return nil, &undoError{err}
	}
	name := now.UTC().Format("20060102T150405Z")
	dir := filepath.Join(root, name)
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, &undoError{err}
		}
		dir = filepath.Join(root, fmt.Sprintf("%s-%d", name, i))
	}
	if err := os.Mkdir(filepath.Join(dir, "saved"), 0o700); err != nil {
		return nil, &undoError{err}
	}
	f, err := os.OpenFile(filepath.Join(dir, journalName), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, &undoError{err}
	}
	syncDir(dir)
	syncDir(root)
	h.Created = now.UTC()
	u := &undoWriter{dir: dir, f: f}
	if err := u.line(h); err != nil {
		f.Close()
		return nil, err
	}
	return u, nil
}

// mkdirOwned creates dir and its missing parents with mode, each given
// to owner.
func mkdirOwned(dir string, mode fs.FileMode, owner *fileOwner) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s: %w", dir, errNotDir)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirOwned(parent, mode, owner); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	owner.chown(dir)
	return nil
}

func (u *undoWriter) line(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return &undoError{err}
	}
	if _, err := u.f.Write(append(b, '\n')); err != nil {
		return &undoError{fmt.Errorf("%s: %w", u.f.Name(), err)}
	}
	if err := u.f.Sync(); err != nil {
		return &undoError{fmt.Errorf("%s: %w", u.f.Name(), err)}
	}
	return nil
}

func (u *undoWriter) record(r undoRecord) error { return u.line(r) }

func (u *undoWriter) close() error {
	if err := u.f.Close(); err != nil {
		return &undoError{err}
	}
	return nil
}

func (u *undoWriter) nextSaved() (string, string) {
	u.n++
	rel := fmt.Sprintf("saved/%d", u.n)
	return rel, filepath.Join(u.dir, filepath.FromSlash(rel))
}

// saveData keeps bytes in the undo set and returns their name.
func (u *undoWriter) saveData(data []byte) (string, error) {
	rel, p := u.nextSaved()
	if err := writeSynced(p, data); err != nil {
		return "", &undoError{err}
	}
	syncDir(filepath.Dir(p))
	return rel, nil
}

// saveBefore journals what dst is before it is replaced: its content,
// mode and time, a symbolic link's target, or that it did not exist. dir
// is dst's folder (see applier.openDir): dst is read by name in it.
func (u *undoWriter) saveBefore(dir *os.Root, dst string) error {
	base := filepath.Base(dst)
	st, err := dir.Lstat(base)
	if errors.Is(err, fs.ErrNotExist) {
		return u.record(undoRecord{Op: "file", Path: dst})
	}
	if err != nil {
		return err
	}
	r := undoRecord{Op: "file", Path: dst, Existed: true, Mode: uint32(st.Mode().Perm()), ModTime: st.ModTime().UTC(), Owner: statOwner(st)}
	if st.Mode()&fs.ModeSymlink != 0 {
		if r.Link, err = dir.Readlink(base); err != nil {
			return err
		}
		return u.record(r)
	}
	in, err := dir.Open(base)
	if err != nil {
		return &undoError{err}
	}
	defer in.Close()
	rel, p := u.nextSaved()
	if err := copyFrom(in, p); err != nil {
		return &undoError{err}
	}
	syncDir(filepath.Dir(p))
	r.Saved = rel
	r.Xattrs, _ = readFileXattrs(in)
	return u.record(r)
}

// copyFrom writes what in holds into the new file dst, synced.
func copyFrom(in io.Reader, dst string) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = syncFile(out) // on disk before its journal record, or before it is renamed into place
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeSynced creates p (it must not exist) with data, synced to disk.
func writeSynced(p string, data []byte) error {
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = out.Write(data)
	if err == nil {
		err = syncFile(out)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// UndoOptions configure Undo.
type UndoOptions struct {
	// Dir is the undo folder (ApplyOptions.UndoDir, or its default).
	Dir string
	// Set names one undo set inside Dir; default: the newest.
	Set string
	// Runner runs the import tools; default ExecRunner.
	Runner Runner
	// Home is the home the apply wrote to; an undo set made for another
	// home is refused. Default: the home the undo set names, which must
	// then be an absolute folder other than the root.
	Home string
	// Catalog is this device's catalog (default BuiltinCatalog()): a
	// record outside the home is only replayed when one of its entries
	// names that system file, defaults domain or fstab.
	Catalog *Catalog
}

// UndoReport lists what Undo put back.
type UndoReport struct {
	Set      string   `json:"set"`
	Restored []string `json:"restored,omitempty"`
	Removed  []string `json:"removed,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// UndoSets lists the undo sets in dir, oldest first.
func UndoSets(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("persona undo: %w", err)
	}
	var sets []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), journalName)); err == nil {
				sets = append(sets, e.Name())
			}
		}
	}
	sort.Slice(sets, func(i, j int) bool { return undoLess(sets[i], sets[j]) })
	return sets, nil
}

// undoLess orders "T", "T-2", "T-10".
func undoLess(a, b string) bool {
	ab, as, _ := strings.Cut(a, "-")
	bb, bs, _ := strings.Cut(b, "-")
	if ab != bb {
		return ab < bb
	}
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	return as < bs
}

// Undo reverts the newest (or the named) apply: overwritten files get
// their content, mode and time back, created files and folders are
// removed, native exports are re-imported. The undo set is deleted when
// everything was put back.
func Undo(ctx context.Context, opts UndoOptions) (*UndoReport, error) {
	if opts.Runner == nil {
		opts.Runner = ExecRunner{}
	}
	set := opts.Set
	if set == "" {
		sets, err := UndoSets(opts.Dir)
		if err != nil {
			return nil, err
		}
		if len(sets) == 0 {
			return nil, fmt.Errorf("persona undo: %s: %w", opts.Dir, ErrNoUndo)
		}
		set = sets[len(sets)-1]
	}
	dir := filepath.Join(opts.Dir, set)
	f, err := os.Open(filepath.Join(dir, journalName))
	if err != nil {
		return nil, fmt.Errorf("persona undo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var h undoHeader
	var recs []undoRecord
	for first := true; sc.Scan(); first = false {
		if first {
			if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
				return nil, fmt.Errorf("persona undo: %s: header: %w", f.Name(), err)
			}
			if h.Format > FormatVersion {
				return nil, fmt.Errorf("persona undo: %s: %w: format %d, this cabinet reads up to %d", f.Name(), ErrNewerFormat, h.Format, FormatVersion)
			}
			continue
		}
		var r undoRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			break // a torn last line: the change it announced was not made
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("persona undo: %s: %w", f.Name(), err)
	}
	home, err := undoHome(opts.Home, h.Home)
	if err != nil {
		return nil, fmt.Errorf("persona undo: %s: %w", f.Name(), err)
	}
	if opts.Catalog == nil {
		if opts.Catalog, err = BuiltinCatalog(); err != nil {
			return nil, err
		}
	}
	chk := undoChecker{home: home, realHome: realDir(home), cat: opts.Catalog}
	dirs := homeDirs{home: home, realHome: chk.realHome}
	defer dirs.close()
	rep := &UndoReport{Set: dir}
	// A mkdir record with Existed cancels the mkdir record before it: the
	// folder was made by someone else between apply's look and its mkdir.
	cancelled := map[string]int{}
	for i := len(recs) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		r := recs[i]
		if r.Op == "mkdir" {
			if r.Existed {
				cancelled[r.Path]++
				continue
			}
			if cancelled[r.Path] > 0 {
				cancelled[r.Path]--
				continue
			}
		}
		err := chk.check(r)
		if err == nil {
			err = undoOne(ctx, opts.Runner, &dirs, dir, home, r, rep)
		}
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s%s: %v", r.Op, r.Path, r.Key, err))
		}
	}
	if len(rep.Problems) == 0 {
		f.Close()
		if err := os.RemoveAll(dir); err != nil {
			rep.Problems = append(rep.Problems, err.Error())
		}
		os.Remove(opts.Dir) // only when no other undo set is left
	}
	return rep, nil
}

func undoOne(ctx context.Context, run Runner, dirs *homeDirs, dir, home string, r undoRecord, rep *UndoReport) error {
	saved := func() []byte {
		if r.Saved == "" {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(r.Saved)))
		return b
	}
	switch r.Op {
	case "file", "mkdir", "chmod":
		// By name inside the folder, opened through a Root of the home
		// (homeDirs.open): a folder swapped for a link after chk.check
		// cannot send the change out of the home.
		if r.Op == "chmod" {
			if err := dirs.chmod(r.Path, fs.FileMode(r.Mode).Perm()); err != nil {
				return err
			}
			rep.Restored = append(rep.Restored, r.Path)
			return nil
		}
		d, err := dirs.open(filepath.Dir(r.Path))
		if err != nil {
			return err
		}
		defer d.Close()
		return undoFile(d, dir, home, r, rep)
	case "dconf":
		if _, err := runDconf(ctx, run, r.Path, nil, "reset", "-f", r.Key); err != nil {
			return err
		}
		if b := saved(); len(b) > 0 {
			if _, err := runDconf(ctx, run, r.Path, b, "load", r.Key); err != nil {
				return err
			}
		}
		rep.Restored = append(rep.Restored, "dconf "+r.Key)
	case "reg":
		if !r.Existed {
			if _, err := run.Run(ctx, Command{Name: "reg", Args: []string{"delete", r.Key, "/f"}}); err != nil {
				return err
			}
			rep.Removed = append(rep.Removed, "reg "+r.Key)
			return nil
		}
		// reg import merges: values and subkeys the apply added would stay.
		// Delete the key first; the saved export holds all of it (and stays
		// in the undo set if the import fails).
		if _, err := run.Run(ctx, Command{Name: "reg", Args: []string{"delete", r.Key, "/f"}}); err != nil {
			return err
		}
		if _, err := run.Run(ctx, Command{Name: "reg", Args: []string{"import", filepath.Join(dir, filepath.FromSlash(r.Saved))}}); err != nil {
			return err
		}
		rep.Restored = append(rep.Restored, "reg "+r.Key)
	case "defaults":
		if !r.Existed {
			if _, err := run.Run(ctx, Command{Name: "defaults", Args: []string{"delete", r.Key}}); err != nil {
				return err
			}
			rep.Removed = append(rep.Removed, "defaults "+r.Key)
			return nil
		}
		if _, err := run.Run(ctx, Command{Name: "defaults", Args: []string{"import", r.Key, filepath.Join(dir, filepath.FromSlash(r.Saved))}}); err != nil {
			return err
		}
		rep.Restored = append(rep.Restored, "defaults "+r.Key)
	case "printer":
		if _, err := run.Run(ctx, Command{Name: "lpadmin", Args: []string{"-x", r.Key}}); err != nil {
			return err
		}
		rep.Removed = append(rep.Removed, "printer "+r.Key)
	case "printer-default":
		if r.Key != "" {
			if _, err := run.Run(ctx, Command{Name: "lpadmin", Args: []string{"-d", r.Key}}); err != nil {
				return err
			}
		}
		rep.Restored = append(rep.Restored, "default printer "+r.Key)
	default:
		return fmt.Errorf("unknown undo record %q", r.Op)
	}
	return nil
}

// ErrUntrustedUndo is wrapped when an undo set names a home other than
// the one being undone, or a record would touch something outside it
// that this device's catalog does not name.
var ErrUntrustedUndo = errors.New("undo record not trusted")

// undoHome returns the home to undo: want (when given) must be the home
// the undo set was made for.
func undoHome(want, got string) (string, error) {
	if want != "" {
		w, err := filepath.Abs(want)
		if err != nil {
			return "", err
		}
		if filepath.Clean(got) != w {
			return "", fmt.Errorf("%w: the undo set was made for home %q, not %s", ErrUntrustedUndo, got, w)
		}
		return w, nil
	}
	if !filepath.IsAbs(got) || filepath.Clean(got) != got || filepath.Dir(got) == got {
		return "", fmt.Errorf("%w: the undo set names home %q", ErrUntrustedUndo, got)
	}
	return got, nil
}

// undoChecker vets each record of an undo set before it is replayed: an
// undo set is a file in the user's home, not trusted input.
type undoChecker struct {
	home, realHome string
	cat            *Catalog
}

func (c undoChecker) check(r undoRecord) error {
	if r.Saved != "" {
		if err := checkRelative(r.Saved); err != nil || !strings.HasPrefix(r.Saved, "saved/") {
			return fmt.Errorf("%w: saved copy %q is not inside the undo set", ErrUntrustedUndo, r.Saved)
		}
	}
	switch r.Op {
	case "file", "mkdir", "chmod":
		if !filepath.IsAbs(r.Path) || filepath.Clean(r.Path) != r.Path {
			return fmt.Errorf("%w: path %q is not absolute and clean", ErrUntrustedUndo, r.Path)
		}
		if r.Path != c.home && insideDir(c.home, r.Path) {
			// Never through a symbolic link out of the home.
			return checkHomeLinks(c.home, c.realHome, r.Path, r.Op == "chmod")
		}
		if !c.systemPath(r.Op, r.Path) {
			return fmt.Errorf("%w: %s is outside the home %s and not a system file of this device's catalog", ErrUntrustedUndo, r.Path, c.home)
		}
	case "dconf":
		if r.Path != c.home {
			return fmt.Errorf("%w: dconf database of %q, not of the home %s", ErrUntrustedUndo, r.Path, c.home)
		}
	case "reg":
		k := strings.ToUpper(r.Key)
		if !strings.HasPrefix(k, `HKEY_CURRENT_USER\`) && !strings.HasPrefix(k, `HKCU\`) {
			return fmt.Errorf("%w: registry key %q is not under HKCU", ErrUntrustedUndo, r.Key)
		}
	case "defaults":
		if strings.ContainsAny(r.Key, `/\`) && !c.hasExport(ExportDefaults, r.Key) {
			return fmt.Errorf("%w: defaults domain %q is not named by this device's catalog", ErrUntrustedUndo, r.Key)
		}
	}
	return nil
}

// systemPath reports whether p is a system file (or, for mkdir, a
// folder leading to one) named by a catalog entry: a file of a system
// rule, or /etc/fstab of an fstab export.
func (c undoChecker) systemPath(op, p string) bool {
	sp := filepath.ToSlash(p)
	for _, e := range c.cat.Entries {
		for _, r := range e.Files {
			if r.Base != BaseSystem {
				continue
			}
			if sp == r.Path || strings.HasPrefix(sp, r.Path+"/") {
				return true
			}
			if op == "mkdir" && strings.HasPrefix(r.Path, sp+"/") {
				return true // an emptied parent folder apply created
			}
		}
		if sp == "/etc/fstab" && op == "file" && entryHasExport(&e, ExportFstab, "") {
			return true
		}
	}
	return false
}

func (c undoChecker) hasExport(kind, key string) bool {
	for i := range c.cat.Entries {
		if entryHasExport(&c.cat.Entries[i], kind, key) {
			return true
		}
	}
	return false
}

// undoFile undoes a "file" or "mkdir" record: r.Path is named in its
// folder d. dir is the undo set, home the home undone.
func undoFile(d *os.Root, dir, home string, r undoRecord, rep *UndoReport) error {
	base := filepath.Base(r.Path)
	if r.Op == "mkdir" {
		if err := d.Remove(base); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("folder not removed (not empty?): %w", err)
		}
		rep.Removed = append(rep.Removed, r.Path)
		return nil
	}
	d.Remove(tempName(base)) // left by the apply if it was killed while writing the file
	if !r.Existed || r.Link != "" {
		if err := d.Remove(base); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if !r.Existed {
			rep.Removed = append(rep.Removed, r.Path)
			return nil
		}
		if err := d.Symlink(r.Link, base); err != nil {
			return err
		}
		undoOwner(home, r.Owner).lchownIn(d, base)
		rep.Restored = append(rep.Restored, r.Path)
		return nil
	}
	in, err := os.Open(filepath.Join(dir, filepath.FromSlash(r.Saved)))
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := base + ".cabinet-undo"
	d.Remove(tmp) // left by an undo that was stopped
	out, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer d.Remove(tmp) // fails once renamed
	_, err = io.Copy(out, in)
	if err == nil {
		err = syncFile(out)
	}
	if err == nil {
		err = writeFileXattrs(out, r.Xattrs)
	}
	if err == nil {
		if o := undoOwner(home, r.Owner); o != nil {
			o.chownFile(out)
		}
		// Permission bits only: set-user-ID and the like from a journal
		// (a file of the user's) would make a root undo create a
		// set-user-ID file.
		err = out.Chmod(fs.FileMode(r.Mode).Perm())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	_ = d.Chtimes(tmp, r.ModTime, r.ModTime)
	if err := d.Rename(tmp, base); err != nil {
		return err
	}
	syncDir(filepath.Dir(r.Path))
	rep.Restored = append(rep.Restored, r.Path)
	return nil
}
