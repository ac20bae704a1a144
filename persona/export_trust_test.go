package persona

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestApplyImportsOnlyCatalogExports: a persona's entry can name any
// export; apply imports one only when this device's catalog entry with the
// same ID names it (a system-wide defaults domain, CUPS queues, fstab).
func TestApplyImportsOnlyCatalogExports(t *testing.T) {
	plist := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>autoLoginUser</key><string>mallory</string></dict></plist>
`
	tests := []struct {
		name    string
		id      string
		x       Export
		ext     string
		data    string
		tool    string // the import tool that must (not) run
		applied bool
	}{
		{name: "system-wide defaults domain", id: "macos/dock", x: Export{Kind: ExportDefaults, Key: "/Library/Preferences/com.apple.loginwindow"},
			ext: "plist", data: plist, tool: "defaults"},
		{name: "printers in an entry that has none", id: "macos/dock", x: Export{Kind: ExportCUPS},
			ext: "json", data: `{"printers":[{"name":"evil","uri":"ipp://evil.example/ipp"}]}`, tool: "lpadmin"},
		{name: "defaults domain of the catalog", id: "macos/dock", x: Export{Kind: ExportDefaults, Key: "com.apple.dock"},
			ext: "plist", data: plist, tool: "defaults", applied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			from := filepath.Join(base, "persona")
			home := filepath.Join(base, "Users", "bob")
			mkdir(t, home, 0o755)
			stored := "exports/" + tt.id + "/0-" + tt.x.Kind + "." + tt.ext
			writeFile(t, filepath.Join(from, stored), tt.data, 0o600)
			m := &Manifest{Format: 1, Created: testNow, Device: "mac", User: "ann", Home: "/Users/ann",
				OS: OSInfo{Family: MacOS, Name: "macOS", Version: "14.4", Arch: "arm64"},
				Entries: []EntryRecord{{
					Entry:   Entry{ID: tt.id, OS: MacOS, Name: "Dock", Category: "desktop", Exports: []Export{tt.x}},
					Status:  StatusCaptured,
					Exports: []ExportRecord{{Kind: tt.x.Kind, Key: tt.x.Key, Stored: stored, SHA256: fileSum(filepath.Join(from, stored)), Size: int64(len(tt.data))}},
				}}}
			data, err := EncodeManifest(m)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(from, ManifestName), string(data), 0o600)
			run := &fakeRunner{fn: func(c Command) ([]byte, error) { return nil, nil }}
			sys := &System{Device: "newmac", User: "bob", Home: home, OS: OSInfo{Family: MacOS, Name: "macOS", Version: "14.5", Arch: "arm64"}}
			rep, err := Apply(context.Background(), ApplyOptions{From: from, Home: home, System: sys, Root: boolPtr(true), Now: fixedClock,
				Runner: run, UndoDir: filepath.Join(base, "undo"), Processes: noProcesses})
			if err != nil {
				t.Fatal(err)
			}
			imported := false
			for _, c := range run.called(tt.tool) {
				imported = imported || len(c.Args) > 0 && (c.Args[0] == "import" || c.Args[0] == "-p")
			}
			if imported != tt.applied {
				t.Errorf("%s import ran = %v, want %v; report %+v", tt.tool, imported, tt.applied, rep.Entries)
			}
			if !tt.applied {
				skipped := false
				for _, e := range rep.Entries {
					for _, s := range e.Skipped {
						skipped = skipped || strings.Contains(s.Reason, "not named by this device's catalog")
					}
				}
				if !skipped || !rep.Incomplete() {
					t.Errorf("export not reported as skipped: %+v", rep.Entries)
				}
			}
		})
	}
}
