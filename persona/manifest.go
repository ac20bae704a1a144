package persona

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// FormatVersion is the manifest format this package writes. Readers refuse
// a newer version; see doc.go for the version history.
const FormatVersion = 1

// ManifestName is the manifest's file name at the root of a persona folder.
const ManifestName = "manifest.json"

// ErrNewerFormat is wrapped when a manifest was written by a newer cabinet.
var ErrNewerFormat = errors.New("persona manifest format is newer than this cabinet understands")

// ErrBadManifest is wrapped by every other manifest decoding error.
var ErrBadManifest = errors.New("invalid persona manifest")

// Entry statuses in a manifest and in reports.
const (
	StatusCaptured    = "captured"     // everything found was captured
	StatusPartial     = "partial"      // captured, but some items failed or are not portable
	StatusNotFound    = "not-found"    // the application or its settings are not on this device
	StatusNotPortable = "not-portable" // only machine-bound items were found
	StatusPermission  = "permission"   // reading needs root or Full Disk Access
	StatusFailed      = "failed"       // an error stopped the capture of this entry
	StatusExcluded    = "excluded"     // not selected by --only / --exclude
)

// ReasonSignInAgain is the reason recorded for machine-bound secrets.
const ReasonSignInAgain = "not portable: sign in again"

// Manifest describes a captured persona. It is stored as manifest.json at
// the root of the persona folder.
type Manifest struct {
	Format   int       `json:"format"`
	Created  time.Time `json:"created"`
	Device   string    `json:"device"`
	User     string    `json:"user"`
	Home     string    `json:"home"`
	OS       OSInfo    `json:"os"`
	Language string    `json:"language,omitempty"`
	// HardwareUUID is the macOS host UUID used in ByHost preference names.
	HardwareUUID string             `json:"hardwareUUID,omitempty"`
	Apps         map[string]AppInfo `json:"apps,omitempty"`
	Entries      []EntryRecord      `json:"entries"`
}

// OSInfo identifies an operating system.
type OSInfo struct {
	Family  string `json:"family"`            // windows, macos, linux
	Name    string `json:"name"`              // "Windows 11 Pro", "macOS Sonoma", "Debian GNU/Linux 13"
	ID      string `json:"id,omitempty"`      // distribution id on Linux ("debian", "ubuntu")
	Version string `json:"version"`           // "10", "11", "14.4.1", "24.04"
	Build   string `json:"build,omitempty"`   // "19045", "23E224"
	Edition string `json:"edition,omitempty"` // Windows EditionID: "Professional", "ServerStandard", "Starter"
	Arch    string `json:"arch"`              // GOARCH names: amd64, arm64, 386, arm
}

// AppInfo is an installed application's version and bitness.
type AppInfo struct {
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"` // "x64"/"x86" style bitness when known (Office)
}

// EntryRecord is the capture result of one catalog entry. The entry's
// definition is kept so a persona applies without the catalog it was
// captured with.
type EntryRecord struct {
	Entry       Entry          `json:"entry"`
	Status      string         `json:"status"`
	Reason      string         `json:"reason,omitempty"`
	Files       []FileRecord   `json:"files,omitempty"`
	Exports     []ExportRecord `json:"exports,omitempty"`
	NotPortable []NotPortable  `json:"notPortable,omitempty"`
	Problems    []string       `json:"problems,omitempty"`
}

// FileRecord is one captured file or folder.
type FileRecord struct {
	Base string `json:"base,omitempty"` // "" (home) or "system"
	// Path is slash-separated, relative to the home (or absolute for system).
	Path string `json:"path"`
	Dir  bool   `json:"dir,omitempty"`
	Mode uint32 `json:"mode"` // permission bits
	// ModTime is the source file's modification time.
	ModTime time.Time `json:"mtime,omitzero"`
	Size    int64     `json:"size,omitempty"`
	SHA256  string    `json:"sha256,omitempty"`
	// Stored is the file's slash-separated path inside the persona folder.
	Stored string `json:"stored,omitempty"`
	PST    bool   `json:"pst,omitempty"`
	// Xattrs are the file's portable extended attributes (user.* on
	// Linux, com.apple.* on macOS), values base64 in JSON.
	Xattrs map[string][]byte `json:"xattrs,omitempty"`
}

// ExportRecord is one native export.
type ExportRecord struct {
	Kind   string `json:"kind"`
	Key    string `json:"key,omitempty"`
	Stored string `json:"stored"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// NotPortable is a machine-bound item that was deliberately not captured.
type NotPortable struct {
	Path   string `json:"path,omitempty"`
	Item   string `json:"item,omitempty"`
	Reason string `json:"reason"`
}

// EncodeManifest returns the manifest as indented JSON.
func EncodeManifest(m *Manifest) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode persona manifest: %w", err)
	}
	return append(data, '\n'), nil
}

// DecodeManifest parses and validates a manifest. A manifest of a newer
// format is refused with an error naming both versions (ErrNewerFormat);
// paths that leave the home or the persona folder are refused
// (ErrBadManifest wrapping ErrEscapesHome).
func DecodeManifest(data []byte) (*Manifest, error) {
	var probe struct {
		Format *int `json:"format"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if probe.Format == nil {
		return nil, fmt.Errorf("%w: no format version", ErrBadManifest)
	}
	if *probe.Format > FormatVersion {
		return nil, fmt.Errorf("%w: manifest format %d, this cabinet reads up to format %d; upgrade cabinet",
			ErrNewerFormat, *probe.Format, FormatVersion)
	}
	if *probe.Format < 1 {
		return nil, fmt.Errorf("%w: format version %d", ErrBadManifest, *probe.Format)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	switch m.OS.Family {
	case Windows, MacOS, Linux:
	default:
		return fmt.Errorf("unknown OS family %q", m.OS.Family)
	}
	if m.Home == "" {
		return fmt.Errorf("no home path")
	}
	seen := map[string]bool{}
	stored := map[string]bool{}
	for i := range m.Entries {
		r := &m.Entries[i]
		if err := r.Entry.Validate(); err != nil {
			return err
		}
		if seen[r.Entry.ID] {
			return fmt.Errorf("duplicate entry %s", r.Entry.ID)
		}
		seen[r.Entry.ID] = true
		for _, f := range r.Files {
			switch f.Base {
			case "", "home":
				if err := checkRelative(f.Path); err != nil {
					return fmt.Errorf("entry %s: %w", r.Entry.ID, err)
				}
			case BaseSystem:
				if !strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path {
					return fmt.Errorf("entry %s: system path %q is not absolute and clean", r.Entry.ID, f.Path)
				}
			default:
				return fmt.Errorf("entry %s: file %q: unknown base %q", r.Entry.ID, f.Path, f.Base)
			}
			if !ruleCovers(&r.Entry, f) {
				return fmt.Errorf("entry %s: file %q is not under any of the entry's paths", r.Entry.ID, f.Path)
			}
			if f.Mode > 0o7777 {
				return fmt.Errorf("entry %s: file %q: mode %o", r.Entry.ID, f.Path, f.Mode)
			}
			if f.Dir {
				continue
			}
			if err := checkStored(f.Stored, stored); err != nil {
				return fmt.Errorf("entry %s: file %q: %w", r.Entry.ID, f.Path, err)
			}
		}
		for _, x := range r.Exports {
			if err := checkStored(x.Stored, stored); err != nil {
				return fmt.Errorf("entry %s: export %s: %w", r.Entry.ID, x.Kind, err)
			}
			if !entryHasExport(&r.Entry, x.Kind, x.Key) {
				return fmt.Errorf("entry %s: export %s %q is not in the entry", r.Entry.ID, x.Kind, x.Key)
			}
		}
	}
	return nil
}

// ruleCovers reports whether a file record lies under one of the entry's
// rule paths (with the same base).
func ruleCovers(e *Entry, f FileRecord) bool {
	for _, r := range e.Files {
		if (r.Base == BaseSystem) != (f.Base == BaseSystem) {
			continue
		}
		if f.Path == r.Path || strings.HasPrefix(f.Path, r.Path+"/") {
			return true
		}
	}
	return false
}

func entryHasExport(e *Entry, kind, key string) bool {
	for _, x := range e.Exports {
		if x.Kind == kind && x.Key == key {
			return true
		}
	}
	return false
}

// checkStored accepts a path under files/ or exports/ of the persona folder.
func checkStored(p string, seen map[string]bool) error {
	if err := checkRelative(p); err != nil {
		return fmt.Errorf("stored path: %w", err)
	}
	if !strings.HasPrefix(p, "files/") && !strings.HasPrefix(p, "exports/") {
		return fmt.Errorf("stored path %q is outside files/ and exports/", p)
	}
	if seen[p] {
		return fmt.Errorf("stored path %q used twice", p)
	}
	seen[p] = true
	return nil
}

// Incomplete reports whether something selected could not be read: an
// entry failed or needed a permission, or one of its items had a problem
// (unreadable, mid-write, a link out of the home). Machine-bound items
// and settings not on the device do not count. The CLI turns it into the
// warnings exit code.
func (m *Manifest) Incomplete() bool {
	for _, e := range m.Entries {
		switch e.Status {
		case StatusFailed, StatusPermission:
			return true
		}
		if len(e.Problems) > 0 {
			return true
		}
	}
	return false
}

// Entry returns the record of one entry ID.
func (m *Manifest) Entry(id string) (*EntryRecord, bool) {
	for i := range m.Entries {
		if m.Entries[i].Entry.ID == id {
			return &m.Entries[i], true
		}
	}
	return nil, false
}

// Summary is a short human description: "ann@laptop, Windows 10 Pro 19045 amd64, 2026-11-21 10:30".
func (m *Manifest) Summary() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s@%s, %s %s", m.User, m.Device, osLabel(m.OS), m.OS.Arch)
	if m.Language != "" {
		fmt.Fprintf(&b, ", %s", m.Language)
	}
	return b.String()
}
