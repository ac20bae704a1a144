package persona

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// CaptureOptions configure Capture. Zero values mean "detect" or "default".
type CaptureOptions struct {
	// Staging is the folder the persona is written into; it is created if
	// missing and must be empty. The engine backs it up as the session's root.
	Staging string
	// Home is the home folder to capture; default: the system's home.
	Home string
	// Catalog defaults to BuiltinCatalog().
	Catalog *Catalog
	// Select picks entries by --only / --exclude.
	Select Selector
	// System describes the source; default: DetectSystem. Tests inject it.
	System *System
	// Root reports whether system-wide entries (NetworkManager, fstab,
	// macOS network preferences) may be read; default: effective uid 0.
	Root *bool
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Runner runs export tools; default ExecRunner.
	Runner Runner
	// Processes lists running process names (default: per platform). An
	// entry whose application runs is still captured, with a problem noted:
	// its files may be mid-write.
	Processes func(ctx context.Context) ([]string, error)
}

// Report is the result of Capture.
type Report struct {
	Staging  string    `json:"staging"`
	Manifest *Manifest `json:"manifest"`
	Files    int       `json:"files"`
	Bytes    int64     `json:"bytes"`
	Exports  int       `json:"exports"`
}

// ErrStagingNotEmpty is returned when the staging folder has content.
var ErrStagingNotEmpty = errors.New("persona staging folder is not empty")

func (o *CaptureOptions) applyDefaults(ctx context.Context) error {
	if o.Staging == "" {
		return fmt.Errorf("persona capture: no staging folder")
	}
	if o.Runner == nil {
		o.Runner = ExecRunner{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Catalog == nil {
		c, err := BuiltinCatalog()
		if err != nil {
			return err
		}
		o.Catalog = c
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
	}
	if o.Home == "" {
		return fmt.Errorf("persona capture: no home folder")
	}
	if o.Root == nil {
		r := os.Geteuid() == 0
		o.Root = &r
	}
	if o.Processes == nil {
		run := o.Runner
		o.Processes = func(ctx context.Context) ([]string, error) { return runningProcesses(ctx, run) }
	}
	return nil
}

// Capture reads the settings of every selected catalog entry of the
// system's OS family from the home and writes a persona folder into
// opts.Staging: manifest.json, files/ and exports/ (layout in doc.go).
// Per-entry problems are recorded in the manifest, not returned; an error
// means the persona folder could not be written or ctx was canceled.
func Capture(ctx context.Context, opts CaptureOptions) (*Report, error) {
	if err := opts.applyDefaults(ctx); err != nil {
		return nil, err
	}
	sys := opts.System
	if unsupportedEdition(sys.OS) {
		return nil, &IncompatibleError{Violations: []Violation{{Rule: RuleUnsupported,
			Message: fmt.Sprintf("%s (%s) is not supported for persona capture", sys.OS.Name, sys.OS.Edition)}}}
	}
	home, err := filepath.Abs(opts.Home)
	if err != nil {
		return nil, fmt.Errorf("persona capture: home %s: %w", opts.Home, err)
	}
	if st, err := os.Stat(home); err != nil {
		return nil, fmt.Errorf("persona capture: home %s: %w", home, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("persona capture: home %s is not a folder", home)
	}
	if err := prepareStaging(opts.Staging); err != nil {
		return nil, err
	}
	user := sys.User
	if opts.Home != sys.Home && sys.Home != "" {
		user = filepath.Base(home) // capturing another user's home: its folder names the user
	}
	m := &Manifest{
		Format:       FormatVersion,
		Created:      opts.Now().UTC().Truncate(time.Second),
		Device:       sys.Device,
		User:         user,
		Home:         home,
		OS:           sys.OS,
		Language:     sys.Language,
		HardwareUUID: sys.HardwareUUID,
		Apps:         map[string]AppInfo{},
	}
	for k, v := range sys.Apps {
		m.Apps[k] = v
	}
	c := &capturer{opts: &opts, home: home, realHome: realDir(home), staging: opts.Staging, rep: &Report{Staging: opts.Staging, Manifest: m}}
	running := map[string]bool{}
	if names, err := opts.Processes(ctx); err == nil {
		for _, n := range names {
			running[strings.ToLower(n)] = true
		}
	}
	for _, e := range opts.Catalog.ForOS(sys.OS.Family) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := EntryRecord{Entry: e}
		if !opts.Select.Selected(e.ID) {
			rec.Status = StatusExcluded
			m.Entries = append(m.Entries, rec)
			continue
		}
		if e.Root && !*opts.Root {
			rec.Status, rec.Reason = StatusPermission, "permission needed: run as root (administrator) to capture"
			m.Entries = append(m.Entries, rec)
			continue
		}
		if err := c.entry(ctx, &rec, runningOne(&e, running)); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var se *stagingError
			if errors.As(err, &se) {
				return nil, err
			}
			rec.Status, rec.Reason = StatusFailed, err.Error()
		}
		if e.App != nil {
			if v := c.appVersion(e.App); v != "" {
				if _, ok := m.Apps[e.App.Name]; !ok {
					m.Apps[e.App.Name] = AppInfo{Version: v}
				}
			}
		}
		m.Entries = append(m.Entries, rec)
	}
	data, err := EncodeManifest(m)
	if err != nil {
		return nil, err
	}
	mp := filepath.Join(opts.Staging, ManifestName)
	if err := os.WriteFile(mp, data, 0o600); err != nil {
		return nil, fmt.Errorf("persona capture: write %s: %w", mp, err)
	}
	return c.rep, nil
}

// stagingError marks a failure to write the persona folder: it aborts the capture.
type stagingError struct{ err error }

func (e *stagingError) Error() string { return e.err.Error() }
func (e *stagingError) Unwrap() error { return e.err }

func prepareStaging(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("persona capture: staging %s: %w", dir, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("persona capture: staging %s: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("persona capture: staging %s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("persona capture: %s: %w", dir, ErrStagingNotEmpty)
	}
	return nil
}

type capturer struct {
	opts     *CaptureOptions
	home     string
	realHome string // home with its own symbolic links resolved
	staging  string
	rep      *Report
}

// linkProblem records a path of the home not captured because a symbolic
// link leads out of the home.
func linkProblem(rec *EntryRecord, err error) {
	rec.Problems = append(rec.Problems, "not captured: "+err.Error())
}

func (c *capturer) entry(ctx context.Context, rec *EntryRecord, running string) error {
	e := &rec.Entry
	seen := map[string]bool{}
	permission := false
	rules := append([]FileRule(nil), e.Files...)
	for _, r := range e.Files {
		if r.ProfilesIni != "" && r.Base != BaseSystem {
			extra := c.profileRules(rec, r)
			rules = append(rules, extra...)
			// The manifest's copy of the entry names the extra folders,
			// so Apply accepts their files.
			e.Files = append(e.Files, extra...)
		}
	}
	for _, r := range rules {
		if err := c.rule(ctx, rec, r, seen); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				permission = true
				rec.Problems = append(rec.Problems, "permission needed: "+err.Error())
				continue
			}
			return err
		}
	}
	for _, s := range e.Secrets {
		if s.Path == "" {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(c.home, filepath.FromSlash(s.Path)))
		sort.Strings(matches)
		for _, mt := range matches {
			rel, err := filepath.Rel(c.home, mt)
			if err != nil {
				continue
			}
			rec.NotPortable = append(rec.NotPortable, NotPortable{Path: filepath.ToSlash(rel), Reason: s.Reason})
		}
	}
	for i, x := range e.Exports {
		if err := c.export(ctx, rec, i, x); err != nil {
			var se *stagingError
			if errors.As(err, &se) || ctx.Err() != nil {
				return err
			}
			rec.Problems = append(rec.Problems, err.Error())
		}
	}
	found := len(rec.Files) > 0 || len(rec.Exports) > 0
	if found && running != "" {
		rec.Problems = append(rec.Problems, fmt.Sprintf("%s was running during the capture: its settings may be incomplete; close it and capture again", running))
	}
	if found {
		for _, s := range e.Secrets {
			if s.Path == "" {
				rec.NotPortable = append(rec.NotPortable, NotPortable{Item: s.Item, Reason: s.Reason})
			}
		}
	}
	switch {
	case found && (len(rec.Problems) > 0 || len(rec.NotPortable) > 0):
		rec.Status = StatusPartial
	case found:
		rec.Status = StatusCaptured
	case len(rec.NotPortable) > 0:
		rec.Status, rec.Reason = StatusNotPortable, ReasonSignInAgain
	case permission:
		rec.Status, rec.Reason = StatusPermission, "permission needed (root, or Full Disk Access on macOS)"
	case len(rec.Problems) > 0:
		rec.Status, rec.Reason = StatusFailed, rec.Problems[0]
	default:
		rec.Status, rec.Reason = StatusNotFound, "not on this device"
	}
	if rec.Status == StatusPartial && len(rec.NotPortable) > 0 && rec.Reason == "" {
		rec.Reason = fmt.Sprintf("%d machine-bound item(s) not captured: %s", len(rec.NotPortable), ReasonSignInAgain)
	}
	return nil
}

// rulePath returns the absolute source path of a rule or record path.
func (c *capturer) rulePath(base, p string) string {
	if base == BaseSystem {
		return filepath.FromSlash(p)
	}
	return filepath.Join(c.home, filepath.FromSlash(p))
}

func storedPath(id, base, p string) string {
	if base == BaseSystem {
		return "files/" + id + "/system/" + strings.TrimPrefix(p, "/")
	}
	return "files/" + id + "/home/" + p
}

func (c *capturer) rule(ctx context.Context, rec *EntryRecord, r FileRule, seen map[string]bool) error {
	root := c.rulePath(r.Base, r.Path)
	// A symbolic link is followed only when it stays inside the home:
	// ~/.bashrc -> /etc/shadow or ~/.ssh -> /root/.ssh is not captured.
	if r.Base != BaseSystem {
		if err := checkHomeLinks(c.home, c.realHome, root, true); err != nil {
			linkProblem(rec, err)
			return nil
		}
	}
	st, err := os.Stat(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	secrets := c.secretGlobs(&rec.Entry)
	if !st.IsDir() {
		if secrets.matchInside(r.Path) && r.Base != BaseSystem {
			return nil // recorded by the secrets pass
		}
		return c.file(rec, r, r.Path, root, st, seen)
	}
	// Walk the resolved folder; symbolic links to files are copied as
	// files (copy, never symlink), links to folders are not followed.
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	include, exclude := compileGlobs(r.Include), compileGlobs(r.Exclude)
	dirModes := map[string]fs.FileMode{r.Path: st.Mode().Perm()}
	dirTimes := map[string]time.Time{r.Path: st.ModTime()}
	var captured []string
	err = filepath.WalkDir(realRoot, func(p string, d fs.DirEntry, werr error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, rerr := filepath.Rel(realRoot, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		full := r.Path
		if rel != "." {
			full = r.Path + "/" + rel
		}
		if werr != nil {
			if errors.Is(werr, fs.ErrPermission) {
				rec.Problems = append(rec.Problems, fmt.Sprintf("permission needed: %s", p))
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			return werr
		}
		if rel == "." {
			return nil
		}
		if exclude.matchInside(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if r.Base != BaseSystem && secrets.matchInside(full) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if info, err := d.Info(); err == nil {
				dirModes[full] = info.Mode().Perm()
				dirTimes[full] = info.ModTime()
			}
			return nil
		}
		if len(r.Include) > 0 && !include.matchInside(rel) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 && r.Base != BaseSystem {
			if err := checkHomeLinks(c.realHome, c.realHome, p, true); err != nil { // p is under the resolved root
				linkProblem(rec, err)
				return nil
			}
		}
		info, err := os.Stat(p) // follows a link to a file (inside the home)
		if err != nil {
			rec.Problems = append(rec.Problems, fmt.Sprintf("%s: %v", p, err))
			return nil
		}
		if !info.Mode().IsRegular() {
			return nil // links to folders, sockets, fifos
		}
		if err := c.file(rec, r, full, p, info, seen); err != nil {
			return err
		}
		captured = append(captured, full)
		return nil
	})
	if err != nil {
		return err
	}
	// Record the folders that lead to captured files, with their modes.
	dirs := map[string]bool{}
	for _, f := range captured {
		for d := path.Dir(f); ; d = path.Dir(d) {
			if _, ok := dirModes[d]; ok {
				dirs[d] = true
			}
			if d == r.Path || d == "." || d == "/" {
				break
			}
		}
	}
	var names []string
	for d := range dirs {
		if !seen["dir:"+d] {
			names = append(names, d)
		}
	}
	sort.Strings(names)
	for _, d := range names {
		seen["dir:"+d] = true
		rec.Files = append(rec.Files, FileRecord{Base: r.Base, Path: d, Dir: true, Mode: uint32(dirModes[d]), ModTime: dirTimes[d].UTC()})
	}
	return nil
}

func (c *capturer) secretGlobs(e *Entry) globs {
	var g []string
	for _, s := range e.Secrets {
		if s.Path != "" {
			g = append(g, s.Path)
		}
	}
	return compileGlobs(g)
}

// file copies one file into the staging folder and records it.
func (c *capturer) file(rec *EntryRecord, r FileRule, rel, src string, info fs.FileInfo, seen map[string]bool) error {
	if seen[rel] {
		return nil
	}
	seen[rel] = true
	stored := storedPath(rec.Entry.ID, r.Base, rel)
	dst := filepath.Join(c.staging, filepath.FromSlash(stored))
	sum, n, err := copyFile(src, dst)
	if err != nil {
		var se *stagingError
		if errors.As(err, &se) {
			return err
		}
		if errors.Is(err, fs.ErrPermission) {
			rec.Problems = append(rec.Problems, "permission needed: "+src)
			return nil
		}
		rec.Problems = append(rec.Problems, err.Error())
		return nil
	}
	xs, _ := readXattrs(src)
	rec.Files = append(rec.Files, FileRecord{
		Base: r.Base, Path: rel, Mode: uint32(info.Mode().Perm()), ModTime: info.ModTime().UTC(),
		Size: n, SHA256: sum, Stored: stored, PST: r.PST && strings.EqualFold(path.Ext(rel), ".pst"), Xattrs: xs,
	})
	c.rep.Files++
	c.rep.Bytes += n
	return nil
}

// copyFile copies src to dst (creating folders, mode 0600) and returns
// the SHA-256 of the content. Errors writing dst are *stagingError.
func copyFile(src, dst string) (string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", src, err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", 0, &stagingError{fmt.Errorf("persona capture: %w", err)}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", 0, &stagingError{fmt.Errorf("persona capture: %w", err)}
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil && cerr != nil {
		return "", 0, &stagingError{fmt.Errorf("persona capture: close %s: %w", dst, cerr)}
	}
	if err != nil {
		os.Remove(dst)
		return "", 0, fmt.Errorf("copy %s: %w", src, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (c *capturer) writeExport(rec *EntryRecord, i int, x Export, ext string, data []byte) error {
	stored := fmt.Sprintf("exports/%s/%d-%s.%s", rec.Entry.ID, i, x.Kind, ext)
	dst := filepath.Join(c.staging, filepath.FromSlash(stored))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return &stagingError{fmt.Errorf("persona capture: %w", err)}
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		return &stagingError{fmt.Errorf("persona capture: %w", err)}
	}
	sum := sha256.Sum256(data)
	rec.Exports = append(rec.Exports, ExportRecord{Kind: x.Kind, Key: x.Key, Stored: stored, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))})
	c.rep.Exports++
	return nil
}

func (c *capturer) export(ctx context.Context, rec *EntryRecord, i int, x Export) error {
	run := c.opts.Runner
	switch x.Kind {
	case ExportReg:
		tmp, err := os.CreateTemp("", "cabinet-reg-*.reg")
		if err != nil {
			return &stagingError{err}
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		if _, err := run.Run(ctx, Command{Name: "reg", Args: []string{"export", x.Key, tmp.Name(), "/y"}}); err != nil {
			if regKeyMissing(err) {
				return nil
			}
			return fmt.Errorf("reg export %s: %w", x.Key, err)
		}
		data, err := os.ReadFile(tmp.Name())
		if err != nil {
			return fmt.Errorf("reg export %s: %w", x.Key, err)
		}
		return c.writeExport(rec, i, x, "reg", data)
	case ExportDefaults:
		out, err := run.Run(ctx, Command{Name: "defaults", Args: []string{"export", x.Key, "-"}})
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") {
				return nil
			}
			return fmt.Errorf("defaults export %s: %w", x.Key, err)
		}
		return c.writeExport(rec, i, x, "plist", out)
	case ExportDconf:
		out, err := runDconf(ctx, run, c.home, nil, "dump", x.Key)
		if err != nil {
			return fmt.Errorf("dconf dump %s: %w", x.Key, err)
		}
		if len(strings.TrimSpace(string(out))) == 0 {
			return nil
		}
		return c.writeExport(rec, i, x, "ini", out)
	case ExportCUPS:
		out, err := run.Run(ctx, Command{Name: "lpstat", Args: []string{"-v"}})
		if err != nil {
			if errors.Is(err, ErrToolMissing) {
				return nil
			}
			if len(out) == 0 {
				return nil // no printers: lpstat exits non-zero
			}
		}
		ps := PrinterList{Printers: networkPrinters(parseLpstatV(out))}
		if def, err := run.Run(ctx, Command{Name: "lpstat", Args: []string{"-d"}}); err == nil {
			ps.Default = parseLpstatD(def)
		}
		if len(ps.Printers) == 0 {
			return nil
		}
		data, _ := json.MarshalIndent(ps, "", "  ")
		return c.writeExport(rec, i, x, "json", data)
	case ExportFstab:
		data, err := os.ReadFile("/etc/fstab")
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("read /etc/fstab: %w", err)
		}
		lines := networkMounts(data)
		if len(lines) == 0 {
			return nil
		}
		return c.writeExport(rec, i, x, "fstab", []byte(strings.Join(lines, "\n")+"\n"))
	}
	return fmt.Errorf("unknown export kind %q", x.Kind)
}

func regKeyMissing(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "unable to find") || strings.Contains(s, "cannot find") || strings.Contains(s, "not find")
}

// appVersion reads an entry's app version from its version file.
func (c *capturer) appVersion(a *App) string {
	if a.VersionFile == "" || a.VersionRegexp == "" {
		return ""
	}
	re, err := regexp.Compile(a.VersionRegexp)
	if err != nil {
		return ""
	}
	matches, _ := filepath.Glob(filepath.Join(c.home, filepath.FromSlash(a.VersionFile)))
	sort.Strings(matches)
	for _, p := range matches {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if g := re.FindSubmatch(data); len(g) > 1 {
			return string(g[1])
		}
	}
	return ""
}

// profileRules reads a Mozilla profiles.ini and returns a rule for each
// absolute profile folder inside the home that r does not already cover.
func (c *capturer) profileRules(rec *EntryRecord, r FileRule) []FileRule {
	data, err := os.ReadFile(filepath.Join(c.rulePath(r.Base, r.Path), filepath.FromSlash(r.ProfilesIni)))
	if err != nil {
		return nil
	}
	var out []FileRule
	for _, p := range absoluteProfiles(string(data)) {
		rel, err := filepath.Rel(c.home, filepath.Clean(p))
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
			rec.Problems = append(rec.Problems, fmt.Sprintf("profile %s is outside the home: not captured", p))
			continue
		}
		rel = filepath.ToSlash(rel)
		if rel == r.Path || strings.HasPrefix(rel, r.Path+"/") || checkRelative(rel) != nil {
			continue // already walked by r
		}
		inc := innerGlobs(r.Include)
		if len(r.Include) > 0 && len(inc) == 0 {
			continue // the rule selects nothing inside profiles
		}
		out = append(out, FileRule{Path: rel, Include: inc, Exclude: innerGlobs(r.Exclude),
			DirMode: r.DirMode, FileMode: r.FileMode, Note: r.Note})
	}
	return out
}

// absoluteProfiles returns the Path of [Profile*] sections with IsRelative=0.
func absoluteProfiles(ini string) []string {
	var out []string
	section, path, relative := "", "", true
	flush := func() {
		if strings.HasPrefix(section, "Profile") && path != "" && !relative {
			out = append(out, path)
		}
		path, relative = "", true
	}
	for _, line := range strings.Split(strings.ReplaceAll(ini, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			flush()
			section = t[1 : len(t)-1]
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Path":
			path = strings.TrimSpace(v)
		case "IsRelative":
			relative = strings.TrimSpace(v) != "0"
		}
	}
	flush()
	return out
}

// innerGlobs turns "*/prefs.js" or "Profiles/*/prefs.js" (relative to a
// profiles folder) into "prefs.js" (relative to one profile).
func innerGlobs(globs []string) []string {
	var out []string
	for _, g := range globs {
		if i := strings.Index(g, "*/"); i >= 0 {
			out = append(out, g[i+2:]) // "*/prefs.js", "Profiles/*/prefs.js"
		}
	}
	return out
}
