package persona

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// ApplyOptions configure Apply. Zero values mean "detect" or "default".
type ApplyOptions struct {
	// From is a persona folder: a mounted MOUNT/<device>/persona/<time>/,
	// or a folder a persona session was restored into.
	From string
	// Home is the target home; default: the system's home.
	Home string
	// User is the target user name used when remapping; default: the
	// system's user, or the base name of Home when Home is given.
	User string
	// Select picks entries by --only / --exclude.
	Select Selector
	// DryRun plans and reports, and writes nothing.
	DryRun bool
	// Force applies despite forceable rule violations (UI language).
	Force bool
	// KeepExisting writes "name (1).ext" beside a differing existing file
	// instead of overwriting it.
	KeepExisting bool
	// UndoDir holds undo sets; default DefaultUndoDir(family, Home).
	UndoDir string
	// System describes the target; default: DetectSystem. Tests inject it.
	System *System
	// Root reports whether system-wide entries may be written; default: euid 0.
	Root *bool
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Runner runs import tools; default ExecRunner.
	Runner Runner
	// Processes lists running process names; default per platform
	// (/proc/*/comm on Linux, ps on macOS, tasklist on Windows).
	Processes func(ctx context.Context) ([]string, error)
	// Wait is how long to wait for a running application to close before
	// its entry is skipped (0: do not wait).
	Wait time.Duration
	// Catalog is this device's catalog (default BuiltinCatalog()). Files
	// outside the home and native exports are only applied when an entry of
	// this catalog with the same ID names them: a persona folder cannot
	// make root write system files its own catalog did not vouch for.
	Catalog *Catalog
}

// ApplyReport says what was applied, what was skipped and why.
type ApplyReport struct {
	From      string        `json:"from"`
	Source    string        `json:"source"`
	Home      string        `json:"home"`
	User      string        `json:"user"`
	DryRun    bool          `json:"dryRun,omitempty"`
	UndoSet   string        `json:"undoSet,omitempty"`
	Warnings  []string      `json:"warnings,omitempty"`
	Entries   []EntryResult `json:"entries"`
	Changed   int           `json:"changed"`
	Unchanged int           `json:"unchanged"`
	Skipped   int           `json:"skipped"`
}

// Apply statuses of an entry.
const (
	ApplyApplied   = "applied"
	ApplyUnchanged = "unchanged"
	ApplyPlanned   = "planned" // dry run: would change
	ApplySkipped   = "skipped"
	ApplyPartial   = "partial"
	ApplyFailed    = "failed"
)

// EntryResult is the outcome of one entry.
type EntryResult struct {
	ID      string        `json:"id"`
	Status  string        `json:"status"`
	Reason  string        `json:"reason,omitempty"`
	Actions []Action      `json:"actions,omitempty"`
	Skipped []SkippedItem `json:"skipped,omitempty"`
}

// Action is one change (or, in a dry run, one planned change).
type Action struct {
	// Op is write, keep-both, restore-pst, mkdir, chmod, import, add-printer,
	// default-printer or reload.
	Op     string `json:"op"`
	Path   string `json:"path"`
	Detail string `json:"detail,omitempty"`
}

// SkippedItem is something not applied, with the reason.
type SkippedItem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ErrMissingFile is wrapped when the persona folder lacks a file its
// manifest lists, or the file's size or checksum differ.
var ErrMissingFile = errors.New("persona folder is incomplete")

func (o *ApplyOptions) applyDefaults(ctx context.Context) error {
	if o.From == "" {
		return fmt.Errorf("persona apply: no persona folder")
	}
	if o.Runner == nil {
		o.Runner = ExecRunner{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.System == nil {
		s, err := DetectSystem(ctx, o.Runner)
		if err != nil {
			return err
		}
		o.System = &s
	}
	if o.Home == "" {
		o.Home = o.System.Home
		if o.User == "" {
			o.User = o.System.User
		}
	}
	if o.Home == "" {
		return fmt.Errorf("persona apply: no home folder")
	}
	h, err := filepath.Abs(o.Home)
	if err != nil {
		return fmt.Errorf("persona apply: home %s: %w", o.Home, err)
	}
	o.Home = h
	if o.User == "" {
		if filepath.Clean(o.Home) == filepath.Clean(o.System.Home) {
			o.User = o.System.User
		} else {
			o.User = filepath.Base(o.Home)
		}
	}
	if o.UndoDir == "" {
		o.UndoDir = DefaultUndoDir(o.System.OS.Family, o.Home)
	}
	if o.Root == nil {
		r := os.Geteuid() == 0
		o.Root = &r
	}
	if o.Catalog == nil {
		c, err := BuiltinCatalog()
		if err != nil {
			return err
		}
		o.Catalog = c
	}
	if o.Processes == nil {
		run := o.Runner
		o.Processes = func(ctx context.Context) ([]string, error) { return runningProcesses(ctx, run) }
	}
	return nil
}

// DefaultUndoDir is where undo sets go: under the target user's data folder.
func DefaultUndoDir(family, home string) string {
	switch family {
	case Windows:
		return filepath.Join(home, "AppData", "Local", "cabinet", "persona-undo")
	case MacOS:
		return filepath.Join(home, "Library", "Application Support", "cabinet", "persona-undo")
	}
	return filepath.Join(home, ".local", "share", "cabinet", "persona-undo")
}

// ReadManifest reads and validates the manifest of a persona folder.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestName)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("persona: %s is not a persona folder (a mounted persona session is MOUNT/<device>/persona/<time>): %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("persona: %w", err)
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("persona: %s: %w", p, err)
	}
	return m, nil
}

// Apply applies a persona folder to a home. It reads the manifest, checks
// compatibility (an *IncompatibleError names the rule), verifies that every
// selected file is present and intact (ErrMissingFile), plans, and only then
// writes: each file it overwrites is first saved into a new undo set under
// opts.UndoDir. Nothing is written in a dry run or when any check fails.
// Applying the same persona twice changes nothing the second time.
func Apply(ctx context.Context, opts ApplyOptions) (*ApplyReport, error) {
	if err := opts.applyDefaults(ctx); err != nil {
		return nil, err
	}
	m, err := ReadManifest(opts.From)
	if err != nil {
		return nil, err
	}
	rep := &ApplyReport{From: opts.From, Source: m.Summary(), Home: opts.Home, User: opts.User, DryRun: opts.DryRun}
	warnings, err := Check(m, opts.System.Target(), opts.Select, opts.Force)
	for _, w := range warnings {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("rule %s: %s (applied anyway: --force)", w.Rule, w.Message))
	}
	if err != nil {
		return rep, err
	}
	if st, err := os.Stat(opts.Home); err != nil {
		return rep, fmt.Errorf("persona apply: home %s: %w", opts.Home, err)
	} else if !st.IsDir() {
		return rep, fmt.Errorf("persona apply: home %s is not a folder", opts.Home)
	}
	a := &applier{
		opts: &opts, m: m, rep: rep, realHome: realDir(opts.Home),
		remap: NewRemapper(m.OS.Family, m.Home, opts.Home, m.User, opts.User, m.HardwareUUID, opts.System.HardwareUUID),
	}
	a.dirs = homeDirs{home: opts.Home, realHome: a.realHome}
	defer a.dirs.close()
	// An apply that stops half way (an undo set that cannot be written,
	// Ctrl-C) has changed files all the same: its report names the undo
	// set, so that the caller can say how to undo.
	defer func() {
		if a.undo != nil && rep.UndoSet == "" {
			a.undo.close()
			rep.UndoSet = a.undo.dir
		}
	}()
	// 1. Plan every selected entry; this reads and verifies the persona folder.
	running, err := a.runningSet(ctx)
	if err != nil {
		rep.Warnings = append(rep.Warnings, "cannot list running applications: "+err.Error())
	}
	var plans []*entryPlan
	for i := range m.Entries {
		rec := &m.Entries[i]
		if !opts.Select.Selected(rec.Entry.ID) || rec.Status == StatusExcluded {
			continue
		}
		p, err := a.plan(ctx, rec, running)
		if err != nil {
			return rep, err
		}
		plans = append(plans, p)
	}
	// 2. Wait for running applications, when asked to.
	if opts.Wait > 0 && !opts.DryRun {
		a.waitForApps(ctx, plans)
	}
	// 3. Write.
	for _, p := range plans {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if !opts.DryRun && p.res.Status == "" {
			if err := a.execute(ctx, p); err != nil {
				return rep, err
			}
		}
		a.finish(p)
		rep.Entries = append(rep.Entries, p.res)
	}
	if a.undo != nil {
		if err := a.undo.close(); err != nil {
			return rep, err
		}
		rep.UndoSet = a.undo.dir
	}
	return rep, nil
}

type applier struct {
	opts     *ApplyOptions
	m        *Manifest
	rep      *ApplyReport
	remap    *Remapper
	undo     *undoWriter
	realHome string   // the home with its own symbolic links resolved
	dirs     homeDirs // opens the folders written to (openDir)
}

// checkLinks refuses a path of the home that leads through a symbolic
// link out of the home (see checkHomeLinks). It runs when planning and
// again right before each write.
func (a *applier) checkLinks(p string, self bool) error {
	return checkHomeLinks(a.opts.Home, a.realHome, p, self)
}

type entryPlan struct {
	rec     *EntryRecord
	res     EntryResult
	dirs    []dirOp
	files   []*fileOp
	exports []*exportOp
	blocked string // running process name
	changed int
	rules   []ruleGlobs // the entry's file rules, compiled at first use
}

type dirOp struct {
	dst     string
	mode    fs.FileMode
	create  bool
	oldMode fs.FileMode
}

type fileOp struct {
	rec     FileRecord
	src     string
	dst     string
	mode    fs.FileMode
	data    []byte // remapped content; nil: copy src as is
	sum     string // SHA-256 of the content to write
	modTime time.Time
	op      string // write, keep-both, chmod
	oldMode fs.FileMode
}

type exportOp struct {
	rec        ExportRecord
	data       []byte
	current    []byte // for defaults/cups: state before
	printers   []Printer
	setDefault string
	fstab      []string
}

// maxRemapSize bounds the files read into memory for remapping.
const maxRemapSize = 16 << 20

func (a *applier) runningSet(ctx context.Context) (map[string]bool, error) {
	names, err := a.opts.Processes(ctx)
	set := map[string]bool{}
	for _, n := range names {
		set[strings.ToLower(n)] = true
	}
	return set, err
}

func runningOne(e *Entry, running map[string]bool) string {
	for _, p := range e.Processes {
		lp := strings.ToLower(p)
		if running[lp] || len(lp) > 15 && running[lp[:15]] {
			return p
		}
	}
	return ""
}

func (a *applier) target(base, rel string) string {
	if base == BaseSystem {
		return filepath.FromSlash(rel)
	}
	return filepath.Join(a.opts.Home, filepath.FromSlash(a.remap.Path(rel)))
}

// ruleGlobs is a catalog rule with its globs compiled.
type ruleGlobs struct {
	rule             *FileRule
	include, exclude globs
}

// ruleFor finds the catalog rule a record came from (for enforced modes).
func (p *entryPlan) ruleFor(f FileRecord) *FileRule {
	e := &p.rec.Entry
	if p.rules == nil {
		p.rules = make([]ruleGlobs, len(e.Files))
		for i := range e.Files {
			r := &e.Files[i]
			p.rules[i] = ruleGlobs{rule: r, include: compileGlobs(r.Include), exclude: compileGlobs(r.Exclude)}
		}
	}
	for _, rg := range p.rules {
		r := rg.rule
		if (r.Base == BaseSystem) != (f.Base == BaseSystem) {
			continue
		}
		if f.Path == r.Path {
			return r
		}
		rel, ok := strings.CutPrefix(f.Path, r.Path+"/")
		if !ok || rg.exclude.matchInside(rel) {
			continue
		}
		if f.Dir || len(r.Include) == 0 || rg.include.matchInside(rel) {
			return r
		}
	}
	return nil
}

func (a *applier) plan(ctx context.Context, rec *EntryRecord, running map[string]bool) (*entryPlan, error) {
	p := &entryPlan{rec: rec, res: EntryResult{ID: rec.Entry.ID}}
	e := &rec.Entry
	for _, np := range rec.NotPortable {
		p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: np.Path + np.Item, Reason: np.Reason})
	}
	// Verify the persona folder first: a damaged persona must fail the
	// whole apply before anything is written, whatever else is skipped.
	for _, f := range rec.Files {
		if f.Dir {
			continue
		}
		if err := verifyStored(a.opts.From, f.Stored, f.Size, f.SHA256); err != nil {
			return nil, err
		}
	}
	for _, x := range rec.Exports {
		if err := verifyStored(a.opts.From, x.Stored, x.Size, x.SHA256); err != nil {
			return nil, err
		}
	}
	switch {
	case len(rec.Files) == 0 && len(rec.Exports) == 0:
		p.res.Status, p.res.Reason = ApplySkipped, "nothing captured: "+orDefault(rec.Reason, rec.Status)
		return p, nil
	case e.Root && !*a.opts.Root:
		p.res.Status, p.res.Reason = ApplySkipped, "permission needed: run as root (administrator) to apply"
		return p, nil
	}
	if name := runningOne(e, running); name != "" {
		p.blocked = name
		p.res.Status, p.res.Reason = ApplySkipped, fmt.Sprintf("app running: %s; close it and apply again (or use --wait)", name)
		return p, nil
	}
	for _, f := range rec.Files {
		if f.Base == BaseSystem && !a.trustedSystem(e.ID, f.Path) {
			p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: f.Path,
				Reason: "system file not named by this device's catalog entry " + e.ID + "; not applied"})
			continue
		}
		if f.Base != BaseSystem && a.inUndoDir(a.target(f.Base, f.Path)) {
			p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: a.target(f.Base, f.Path),
				Reason: "inside the folder of persona undo sets; not applied"})
			continue
		}
		if f.Dir {
			if err := a.planDir(p, f); err != nil {
				return nil, err
			}
			continue
		}
		if err := a.planFile(p, f); err != nil {
			return nil, err
		}
	}
	for _, x := range rec.Exports {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Every export (system-wide defaults domains, CUPS queues, fstab
		// lines, and user exports too) is applied only when this device's
		// catalog entry with the same ID names it.
		if !a.trustedExport(e.ID, x) {
			p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: strings.TrimSpace(x.Kind + " " + x.Key),
				Reason: "not named by this device's catalog entry " + e.ID + "; not applied"})
			continue
		}
		op, err := a.planExport(ctx, p, x)
		if err != nil {
			p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: x.Kind + " " + x.Key, Reason: err.Error()})
			continue
		}
		if op != nil {
			p.exports = append(p.exports, op)
		}
	}
	return p, nil
}

func orDefault(s, d string) string {
	if s != "" {
		return s
	}
	return d
}

// inUndoDir reports whether p is the folder of undo sets (this apply's
// and the default one) or lies inside it: a persona must not plant an
// undo journal that a later 'apply --undo' would replay.
func (a *applier) inUndoDir(p string) bool {
	for _, d := range []string{a.opts.UndoDir, DefaultUndoDir(a.opts.System.OS.Family, a.opts.Home)} {
		d, err := filepath.Abs(d)
		if err != nil {
			continue
		}
		if insideDir(d, p) || caseInsensitiveFS && insideDir(strings.ToLower(d), strings.ToLower(p)) {
			return true
		}
	}
	return false
}

// caseInsensitiveFS: the usual file systems of Windows and macOS ignore case.
const caseInsensitiveFS = runtime.GOOS == "windows" || runtime.GOOS == "darwin"

// trustedSystem reports whether this device's catalog entry id has a
// system rule covering the absolute path p.
func (a *applier) trustedSystem(id, p string) bool {
	e, ok := a.opts.Catalog.Entry(id)
	if !ok {
		return false
	}
	for _, r := range e.Files {
		if r.Base == BaseSystem && (p == r.Path || strings.HasPrefix(p, r.Path+"/")) {
			return true
		}
	}
	return false
}

func (a *applier) trustedExport(id string, x ExportRecord) bool {
	e, ok := a.opts.Catalog.Entry(id)
	return ok && entryHasExport(e, x.Kind, x.Key)
}

// verifyStored checks a stored file's presence, size and checksum.
func verifyStored(from, stored string, size int64, sum string) error {
	p := filepath.Join(from, filepath.FromSlash(stored))
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMissingFile, p, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("%w: read %s: %w", ErrMissingFile, p, err)
	}
	if n != size {
		return fmt.Errorf("%w: %s has %d bytes, the manifest says %d", ErrMissingFile, p, n, size)
	}
	if sum != "" && hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("%w: %s does not match its checksum", ErrMissingFile, p)
	}
	return nil
}

func (a *applier) planDir(p *entryPlan, f FileRecord) error {
	dst := a.target(f.Base, f.Path)
	mode := fs.FileMode(f.Mode).Perm()
	if r := p.ruleFor(f); r != nil && r.DirMode != "" {
		mode, _ = parseMode(r.DirMode)
	}
	if err := a.checkLinks(dst, true); err != nil {
		p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: dst, Reason: err.Error()})
		return nil
	}
	st, err := os.Lstat(dst)
	if err == nil && st.Mode()&fs.ModeSymlink != 0 {
		// A link to a folder of the home (checkLinks saw it stays
		// inside): a dotfiles manager's ~/.ssh. Files go through it.
		if tst, terr := os.Stat(dst); terr == nil && tst.IsDir() {
			st = tst
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.dirs = append(p.dirs, dirOp{dst: dst, mode: mode, create: true})
	case err != nil:
		p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: dst, Reason: err.Error()})
	case !st.IsDir():
		p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: dst, Reason: "a file is in the way of this folder"})
	case st.Mode().Perm() != mode:
		p.dirs = append(p.dirs, dirOp{dst: dst, mode: mode, oldMode: st.Mode().Perm()})
	}
	return nil
}

func (a *applier) planFile(p *entryPlan, f FileRecord) error {
	src := filepath.Join(a.opts.From, filepath.FromSlash(f.Stored))
	op := &fileOp{rec: f, src: src, dst: a.target(f.Base, f.Path), mode: fs.FileMode(f.Mode).Perm(), sum: f.SHA256, modTime: f.ModTime, op: "write"}
	if r := p.ruleFor(f); r != nil && r.FileMode != "" {
		op.mode, _ = parseMode(r.FileMode)
	}
	if err := a.checkLinks(op.dst, false); err != nil {
		p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: op.dst, Reason: err.Error()})
		return nil
	}
	if f.Size <= maxRemapSize && !a.remap.Identity() {
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMissingFile, src, err)
		}
		if out, ok := a.remap.Text(data); ok && !bytes.Equal(out, data) {
			op.data = out
			s := sha256.Sum256(out)
			op.sum = hex.EncodeToString(s[:])
		}
	}
	st, err := os.Lstat(op.dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		if f.PST {
			break // written to the Desktop instead (see writeFile)
		}
		p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: op.dst, Reason: err.Error()})
		return nil
	case st.IsDir():
		p.res.Skipped = append(p.res.Skipped, SkippedItem{Path: op.dst, Reason: "a folder is in the way of this file"})
		return nil
	case st.Mode().IsRegular() && fileSum(op.dst) == op.sum && xattrsMatch(op.dst, f.Xattrs):
		if st.Mode().Perm() == op.mode {
			return nil // unchanged
		}
		op.op, op.oldMode = "chmod", st.Mode().Perm()
	case a.opts.KeepExisting:
		alt, same := keepBothName(op.dst, op.sum)
		if same {
			return nil
		}
		op.dst, op.op = alt, "keep-both"
	}
	p.files = append(p.files, op)
	return nil
}

var errNotDir = errors.New("not a directory")

// xattrsMatch reports whether p has exactly the portable attributes want
// (always true where the file system has none).
func xattrsMatch(p string, want map[string][]byte) bool {
	cur, ok := readXattrs(p)
	if !ok {
		return true
	}
	w := map[string][]byte{}
	for k, v := range want {
		if portableXattr(k) {
			w[k] = v
		}
	}
	return xattrsEqual(cur, w)
}

// keepBothName returns "name (n).ext" beside dst: the first that does not
// exist, or one that already holds the content (same true).
func keepBothName(dst, sum string) (string, bool) {
	ext := filepath.Ext(dst)
	if ext == filepath.Base(dst) {
		ext = "" // .bashrc (1), not " (1).bashrc"
	}
	stem := strings.TrimSuffix(dst, ext)
	for n := 1; ; n++ {
		alt := fmt.Sprintf("%s (%d)%s", stem, n, ext)
		st, err := os.Lstat(alt)
		if errors.Is(err, fs.ErrNotExist) {
			return alt, false
		}
		if err == nil && st.Mode().IsRegular() && fileSum(alt) == sum {
			return alt, true
		}
	}
}

func fileSum(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (a *applier) waitForApps(ctx context.Context, plans []*entryPlan) {
	deadline := a.opts.Now().Add(a.opts.Wait)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		blocked := 0
		for _, p := range plans {
			if p.blocked != "" {
				blocked++
			}
		}
		if blocked == 0 || !a.opts.Now().Before(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		running, err := a.runningSet(ctx)
		if err != nil {
			return
		}
		for i, p := range plans {
			if p.blocked != "" && runningOne(&p.rec.Entry, running) == "" {
				np, err := a.plan(ctx, p.rec, running)
				if err == nil {
					plans[i] = np
				}
			}
		}
	}
}

// finish sets an entry's status and the report's counters.
func (a *applier) finish(p *entryPlan) {
	r := &p.res
	if p.blocked != "" {
		a.rep.Warnings = append(a.rep.Warnings, fmt.Sprintf("%s: skipped because %s is running", r.ID, p.blocked))
	}
	if r.Status == "" {
		n := len(p.dirs) + len(p.files) + len(p.exports)
		if a.opts.DryRun {
			for _, d := range p.dirs {
				op := "mkdir"
				if !d.create {
					op = "chmod"
				}
				r.Actions = append(r.Actions, Action{Op: op, Path: d.dst, Detail: fmt.Sprintf("%04o", d.mode)})
			}
			for _, f := range p.files {
				r.Actions = append(r.Actions, Action{Op: f.op, Path: f.dst})
			}
			for _, x := range p.exports {
				r.Actions = append(r.Actions, Action{Op: "import", Path: x.rec.Kind + " " + x.rec.Key})
			}
			p.changed = n
		}
		switch {
		case p.changed == 0 && len(r.Skipped) > 0 && len(p.rec.Files)+len(p.rec.Exports) == 0:
			r.Status = ApplySkipped
		case p.changed == 0:
			r.Status = ApplyUnchanged
		case a.opts.DryRun:
			r.Status = ApplyPlanned
		default:
			r.Status = ApplyApplied
		}
		if len(r.Skipped) > 0 && r.Status != ApplySkipped && r.Status != ApplyUnchanged {
			if r.Status == ApplyApplied {
				r.Status = ApplyPartial
			}
		}
	}
	switch r.Status {
	case ApplyApplied, ApplyPartial, ApplyPlanned:
		a.rep.Changed += p.changed
	}
	if r.Status == ApplyUnchanged {
		a.rep.Unchanged++
	}
	if r.Status == ApplyFailed || r.Status == ApplySkipped && !strings.HasPrefix(r.Reason, "nothing captured") {
		a.rep.Skipped++
	}
	a.rep.Skipped += len(r.Skipped)
}

// Incomplete reports whether something the user asked for was not
// applied: an entry failed, was skipped because its application ran or
// permission was missing, or one of its items could not be written.
// Machine-bound items and entries with nothing captured do not count.
func (r *ApplyReport) Incomplete() bool {
	for _, e := range r.Entries {
		switch e.Status {
		case ApplyFailed:
			return true
		case ApplySkipped:
			if !strings.HasPrefix(e.Reason, "nothing captured") {
				return true
			}
		}
		for _, s := range e.Skipped {
			if !strings.HasPrefix(s.Reason, "not portable") {
				return true
			}
		}
	}
	return false
}
