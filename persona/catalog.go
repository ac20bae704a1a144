package persona

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/cabinetbackup/cabinet/internal/glob"
)

// Operating system families used by catalog entries and manifests.
const (
	Windows = "windows"
	MacOS   = "macos"
	Linux   = "linux"
)

// Export kinds: settings that live outside files and are read and written
// by a native tool.
const (
	ExportReg      = "reg"      // Windows: reg export / reg import of HKCU keys
	ExportDefaults = "defaults" // macOS: defaults export / defaults import of a domain
	ExportDconf    = "dconf"    // Linux: dconf dump / dconf load of a path
	ExportCUPS     = "cups"     // Linux, macOS: lpstat -v / lpadmin (network queues only)
	ExportFstab    = "fstab"    // Linux: cifs/nfs lines of /etc/fstab
)

// Reload actions run after an entry's files were written.
const (
	ReloadNetworkManager = "networkmanager" // nmcli connection reload
)

// BaseSystem marks a file rule whose path is absolute (outside the home).
// Such rules need root to capture and to apply.
const BaseSystem = "system"

// ErrCatalog is wrapped by every catalog validation error.
var ErrCatalog = errors.New("invalid persona catalog")

//go:embed catalog/*.json
var builtinCatalog embed.FS

// Catalog is an ordered set of entries, unique by ID.
type Catalog struct {
	Entries []Entry `json:"entries"`
}

// Entry describes one application or OS area: where its settings live, how
// they are read and written, and which parts are machine-bound.
type Entry struct {
	ID       string `json:"id"`   // "<os>/<name>", e.g. "linux/firefox"
	OS       string `json:"os"`   // windows, macos or linux
	Name     string `json:"name"` // human name
	Category string `json:"category"`
	// App, when set, names the application and the versions the entry knows.
	App *App `json:"app,omitempty"`
	// Processes are process names (without .exe) that mean the application
	// is running; such an entry is not applied while one of them runs.
	Processes []string   `json:"processes,omitempty"`
	Files     []FileRule `json:"files,omitempty"`
	Exports   []Export   `json:"exports,omitempty"`
	// Secrets are machine-bound items: never captured, reported as not portable.
	Secrets []Secret `json:"secrets,omitempty"`
	// Root marks an entry that can only be captured and applied as root.
	Root bool `json:"root,omitempty"`
	// Reload names an action run after the entry's files were applied.
	Reload string `json:"reload,omitempty"`
	// Note is shown in listings and reports (e.g. "credentials are not migrated").
	Note string `json:"note,omitempty"`
}

// App names an application and how its installed version is found.
type App struct {
	Name     string `json:"name"`               // key in the manifest's app versions, e.g. "firefox"
	Versions string `json:"versions,omitempty"` // versions the entry knows, informational ("44 or later")
	// VersionFile is a glob relative to the home of a file whose content
	// holds the version; VersionRegexp's first group extracts it.
	VersionFile   string `json:"versionFile,omitempty"`
	VersionRegexp string `json:"versionRegexp,omitempty"`
}

// FileRule selects files under one root.
type FileRule struct {
	// Base is "home" (default: Path is relative to the home, slash-separated)
	// or "system" (Path is absolute).
	Base string `json:"base,omitempty"`
	// Path is a file or a folder. It never contains "..".
	Path string `json:"path"`
	// Include and Exclude are globs relative to Path ("*" within a name,
	// "**" any number of folders). Include defaults to everything.
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
	// DirMode and FileMode, when set, are enforced on apply ("0700").
	DirMode  string `json:"dirMode,omitempty"`
	FileMode string `json:"fileMode,omitempty"`
	// PST marks Outlook data files: restored to the original path or, when
	// that cannot be written, to the Desktop as restore.pst.
	PST bool `json:"pst,omitempty"`
	// Note is reported for every captured file of this rule.
	Note string `json:"note,omitempty"`
	// ProfilesIni names a Mozilla profiles.ini (relative to Path). Its
	// profiles with absolute paths (IsRelative=0) elsewhere in the home
	// are captured too, with the "*/" patterns of Include and Exclude
	// applied inside each; profiles outside the home are reported.
	ProfilesIni string `json:"profilesIni,omitempty"`
}

// Export is a native export of settings that do not live in files.
type Export struct {
	Kind string `json:"kind"` // reg, defaults, dconf, cups, fstab
	// Key is the registry key (reg), the defaults domain, or the dconf path
	// (ending in "/"). Unused for cups and fstab.
	Key string `json:"key,omitempty"`
}

// Secret is a machine-bound item: a glob relative to the home (may be
// empty for items that are not files, such as a keychain's Wi-Fi passwords)
// and the reason shown to the user.
type Secret struct {
	Path   string `json:"path,omitempty"`
	Item   string `json:"item,omitempty"`
	Reason string `json:"reason"`
}

var entryIDPattern = regexp.MustCompile(`^(windows|macos|linux)/[a-z0-9][a-z0-9._-]*$`)

// Validate checks an entry: its ID and OS, and that no path escapes its root.
func (e *Entry) Validate() error {
	if !entryIDPattern.MatchString(e.ID) {
		return fmt.Errorf("%w: entry id %q: want <windows|macos|linux>/<name>", ErrCatalog, e.ID)
	}
	if !strings.HasPrefix(e.ID, e.OS+"/") {
		return fmt.Errorf("%w: entry %s: os %q does not match its id", ErrCatalog, e.ID, e.OS)
	}
	if len(e.Files) == 0 && len(e.Exports) == 0 && len(e.Secrets) == 0 {
		return fmt.Errorf("%w: entry %s captures nothing (no files, exports or secrets)", ErrCatalog, e.ID)
	}
	for _, r := range e.Files {
		if err := r.validate(); err != nil {
			return fmt.Errorf("%w: entry %s: %w", ErrCatalog, e.ID, err)
		}
	}
	for _, x := range e.Exports {
		switch x.Kind {
		case ExportReg:
			if !strings.HasPrefix(strings.ToUpper(x.Key), `HKEY_CURRENT_USER\`) && !strings.HasPrefix(strings.ToUpper(x.Key), `HKCU\`) {
				return fmt.Errorf("%w: entry %s: registry key %q is not under HKCU", ErrCatalog, e.ID, x.Key)
			}
		case ExportDefaults:
			if x.Key == "" || strings.ContainsAny(x.Key, `/\`) && !strings.HasPrefix(x.Key, "/Library/") {
				return fmt.Errorf("%w: entry %s: defaults domain %q", ErrCatalog, e.ID, x.Key)
			}
		case ExportDconf:
			if !strings.HasPrefix(x.Key, "/") || !strings.HasSuffix(x.Key, "/") || strings.Contains(x.Key, "..") {
				return fmt.Errorf("%w: entry %s: dconf path %q must start and end with /", ErrCatalog, e.ID, x.Key)
			}
		case ExportCUPS, ExportFstab:
		default:
			return fmt.Errorf("%w: entry %s: unknown export kind %q", ErrCatalog, e.ID, x.Kind)
		}
	}
	for _, s := range e.Secrets {
		if s.Path != "" {
			if err := checkRelative(s.Path); err != nil {
				return fmt.Errorf("%w: entry %s: secret: %w", ErrCatalog, e.ID, err)
			}
		}
		if s.Reason == "" {
			return fmt.Errorf("%w: entry %s: secret %q has no reason", ErrCatalog, e.ID, s.Path+s.Item)
		}
	}
	switch e.Reload {
	case "", ReloadNetworkManager:
	default:
		return fmt.Errorf("%w: entry %s: unknown reload %q", ErrCatalog, e.ID, e.Reload)
	}
	if e.App != nil && e.App.VersionRegexp != "" {
		if _, err := regexp.Compile(e.App.VersionRegexp); err != nil {
			return fmt.Errorf("%w: entry %s: version regexp: %w", ErrCatalog, e.ID, err)
		}
	}
	return nil
}

func (r *FileRule) validate() error {
	switch r.Base {
	case "", "home":
		if err := checkRelative(r.Path); err != nil {
			return err
		}
	case BaseSystem:
		if !strings.HasPrefix(r.Path, "/") || path.Clean(r.Path) != r.Path || strings.Contains(r.Path, "..") {
			return fmt.Errorf("system path %q must be absolute and clean", r.Path)
		}
	default:
		return fmt.Errorf("path %q: unknown base %q", r.Path, r.Base)
	}
	for _, g := range append(append([]string(nil), r.Include...), r.Exclude...) {
		if err := checkRelative(g); err != nil {
			return fmt.Errorf("glob under %q: %w", r.Path, err)
		}
		if _, err := glob.Compile(g); err != nil {
			return fmt.Errorf("glob: %w", err)
		}
	}
	if r.ProfilesIni != "" {
		if err := checkRelative(r.ProfilesIni); err != nil {
			return fmt.Errorf("profilesIni: %w", err)
		}
	}
	for _, m := range []string{r.DirMode, r.FileMode} {
		if m != "" {
			if _, err := parseMode(m); err != nil {
				return fmt.Errorf("path %q: %w", r.Path, err)
			}
		}
	}
	return nil
}

// ErrEscapesHome is wrapped when a path leaves the folder it must stay in.
var ErrEscapesHome = errors.New("path escapes the home")

// checkRelative accepts a slash-separated relative path without "..",
// empty components or a drive letter.
func checkRelative(p string) error {
	if p == "" {
		return fmt.Errorf("empty path")
	}
	if strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || (len(p) >= 2 && p[1] == ':') {
		return fmt.Errorf("path %q: %w (absolute or not slash-separated)", p, ErrEscapesHome)
	}
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "..":
			return fmt.Errorf("path %q: %w", p, ErrEscapesHome)
		case "", ".":
			return fmt.Errorf("path %q: empty or '.' component", p)
		}
	}
	return nil
}

func parseMode(s string) (fs.FileMode, error) {
	var m uint32
	if _, err := fmt.Sscanf(s, "%o", &m); err != nil || m > 0o7777 {
		return 0, fmt.Errorf("mode %q is not an octal permission", s)
	}
	return fs.FileMode(m), nil
}

// Validate checks every entry and that IDs are unique.
func (c *Catalog) Validate() error {
	seen := map[string]bool{}
	for i := range c.Entries {
		if err := c.Entries[i].Validate(); err != nil {
			return err
		}
		if seen[c.Entries[i].ID] {
			return fmt.Errorf("%w: duplicate entry %s", ErrCatalog, c.Entries[i].ID)
		}
		seen[c.Entries[i].ID] = true
	}
	return nil
}

// Entry returns the entry with the given ID.
func (c *Catalog) Entry(id string) (*Entry, bool) {
	for i := range c.Entries {
		if c.Entries[i].ID == id {
			return &c.Entries[i], true
		}
	}
	return nil, false
}

// ForOS returns the entries of one OS family ("" for all), sorted by ID.
func (c *Catalog) ForOS(family string) []Entry {
	var out []Entry
	for _, e := range c.Entries {
		if family == "" || e.OS == family {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// merge adds the entries of o; an entry with an existing ID replaces it,
// so an admin's catalog file can refine a built-in entry.
func (c *Catalog) merge(o Catalog) {
	for _, e := range o.Entries {
		replaced := false
		for i := range c.Entries {
			if c.Entries[i].ID == e.ID {
				c.Entries[i] = e
				replaced = true
				break
			}
		}
		if !replaced {
			c.Entries = append(c.Entries, e)
		}
	}
}

// DecodeCatalog parses one catalog file: a JSON object {"entries": [...]}.
// Unknown fields are refused so a typo does not silently capture nothing.
func DecodeCatalog(data []byte) (Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Catalog{}, fmt.Errorf("%w: %w", ErrCatalog, err)
	}
	if err := c.Validate(); err != nil {
		return Catalog{}, err
	}
	return c, nil
}

// BuiltinCatalog returns the catalog embedded in the binary.
func BuiltinCatalog() (*Catalog, error) {
	names, err := fs.Glob(builtinCatalog, "catalog/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	c := &Catalog{}
	for _, n := range names {
		data, err := builtinCatalog.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("built-in catalog %s: %w", n, err)
		}
		part, err := DecodeCatalog(data)
		if err != nil {
			return nil, fmt.Errorf("built-in catalog %s: %w", n, err)
		}
		c.merge(part)
	}
	return c, c.Validate()
}

// LoadCatalog returns the built-in catalog merged with every *.json file
// of dir (skipped when dir is "" or does not exist; sorted by name) and
// then with each of files, in order. Later entries replace earlier ones
// with the same ID.
func LoadCatalog(dir string, files ...string) (*Catalog, error) {
	c, err := BuiltinCatalog()
	if err != nil {
		return nil, err
	}
	var paths []string
	if dir != "" {
		m, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("catalog folder %s: %w", dir, err)
		}
		sort.Strings(m)
		paths = append(paths, m...)
	}
	paths = append(paths, files...)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("catalog file %s: %w", p, err)
		}
		part, err := DecodeCatalog(data)
		if err != nil {
			return nil, fmt.Errorf("catalog file %s: %w", p, err)
		}
		c.merge(part)
	}
	return c, c.Validate()
}

// DefaultCatalogDir is the folder of user catalog files under a config
// directory (os.UserConfigDir): <config>/cabinet/persona.
func DefaultCatalogDir(configDir string) string {
	return filepath.Join(configDir, "cabinet", "persona")
}

// Describe says in one line what an entry captures, for listings.
func (e *Entry) Describe() string {
	var parts []string
	for _, r := range e.Files {
		p := r.Path
		if r.Base != BaseSystem {
			p = "~/" + p
		}
		if len(r.Include) > 0 {
			p += " (" + strings.Join(r.Include, ", ") + ")"
		}
		parts = append(parts, p)
	}
	for _, x := range e.Exports {
		switch x.Kind {
		case ExportReg:
			parts = append(parts, "reg "+x.Key)
		case ExportDefaults:
			parts = append(parts, "defaults "+x.Key)
		case ExportDconf:
			parts = append(parts, "dconf "+x.Key)
		case ExportCUPS:
			parts = append(parts, "CUPS network printers")
		case ExportFstab:
			parts = append(parts, "fstab cifs/nfs lines")
		}
	}
	for _, s := range e.Secrets {
		parts = append(parts, "not portable: "+s.Path+s.Item)
	}
	return strings.Join(parts, "; ")
}

// Selector picks entries by --only and --exclude lists. A name matches an
// entry's full ID ("windows/outlook") or the part after the OS ("outlook").
type Selector struct {
	Only    []string
	Exclude []string
}

// Selected reports whether an entry ID is selected.
func (s Selector) Selected(id string) bool {
	match := func(list []string) bool {
		short := id[strings.Index(id, "/")+1:]
		for _, n := range list {
			n = strings.TrimSpace(n)
			if n == id || n == short {
				return true
			}
		}
		return false
	}
	if len(s.Only) > 0 && !match(s.Only) {
		return false
	}
	return !match(s.Exclude)
}

// SplitList splits a comma-separated flag value, dropping empty names.
func SplitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
