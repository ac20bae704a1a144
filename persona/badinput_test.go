package persona

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// capturedPersona captures a small Linux home of ann and returns the
// persona folder and an empty target home for bob.
func capturedPersona(t *testing.T) (staging, newHome string) {
	t.Helper()
	base := t.TempDir()
	oldHome := filepath.Join(base, "home", "ann")
	newHome = filepath.Join(base, "home", "bob")
	mkdir(t, newHome, 0o755)
	writeFile(t, filepath.Join(oldHome, ".bashrc"), "cd "+oldHome+"\n", 0o644)
	writeFile(t, filepath.Join(oldHome, ".gitconfig"), "[user]\n\tname = Ann\n", 0o644)
	writeFile(t, filepath.Join(oldHome, ".ssh", "id_rsa"), "KEY", 0o600)
	staging = filepath.Join(base, "staging")
	_, err := Capture(context.Background(), CaptureOptions{Staging: staging, System: linuxSystem("ann", oldHome), Root: boolPtr(false),
		Now: fixedClock, Select: Selector{Only: []string{"bash", "git", "ssh"}}})
	if err != nil {
		t.Fatal(err)
	}
	return staging, newHome
}

func applyTo(staging, home string, sys *System) ApplyOptions {
	if sys == nil {
		sys = linuxSystem("bob", home)
	}
	return ApplyOptions{From: staging, Home: home, System: sys, Root: boolPtr(false), Now: fixedClock,
		UndoDir: filepath.Join(home, ".undo"), Processes: noProcesses}
}

func TestApplyRefusesBadInput(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, staging string)
		sys     func(home string) *System
		wantErr error
		wantMsg []string
	}{
		{
			name: "newer manifest format",
			damage: func(t *testing.T, staging string) {
				p := filepath.Join(staging, ManifestName)
				data := strings.Replace(readFile(t, p), `"format": 1,`, `"format": 7,`, 1)
				writeFile(t, p, data, 0o600)
			},
			wantErr: ErrNewerFormat, wantMsg: []string{"format 7", "format 1"},
		},
		{
			name: "missing file",
			damage: func(t *testing.T, staging string) {
				os.Remove(filepath.Join(staging, "files/linux/ssh/home/.ssh/id_rsa"))
			},
			wantErr: ErrMissingFile, wantMsg: []string{"id_rsa"},
		},
		{
			name: "truncated file",
			damage: func(t *testing.T, staging string) {
				writeFile(t, filepath.Join(staging, "files/linux/git/home/.gitconfig"), "[user]", 0o600)
			},
			wantErr: ErrMissingFile, wantMsg: []string{".gitconfig", "bytes"},
		},
		{
			name: "changed file",
			damage: func(t *testing.T, staging string) {
				p := filepath.Join(staging, "files/linux/ssh/home/.ssh/id_rsa")
				writeFile(t, p, "XEY", 0o600)
			},
			wantErr: ErrMissingFile, wantMsg: []string{"checksum"},
		},
		{
			name: "manifest path escaping the home",
			damage: func(t *testing.T, staging string) {
				p := filepath.Join(staging, ManifestName)
				data := strings.Replace(readFile(t, p), `"path": ".gitconfig"`, `"path": "../../etc/cron.d/evil"`, 1)
				writeFile(t, p, data, 0o600)
			},
			wantErr: ErrEscapesHome, wantMsg: []string{"../../etc/cron.d/evil"},
		},
		{
			name: "stored path escaping the persona folder",
			damage: func(t *testing.T, staging string) {
				p := filepath.Join(staging, ManifestName)
				data := strings.Replace(readFile(t, p), `"stored": "files/linux/git/home/.gitconfig"`, `"stored": "files/../../../etc/shadow"`, 1)
				writeFile(t, p, data, 0o600)
			},
			wantErr: ErrBadManifest, wantMsg: []string{"escapes"},
		},
		{
			name:    "no manifest",
			damage:  func(t *testing.T, staging string) { os.Remove(filepath.Join(staging, ManifestName)) },
			wantErr: os.ErrNotExist, wantMsg: []string{"not a persona folder", ManifestName},
		},
		{
			name: "cross-family target",
			sys: func(home string) *System {
				s := linuxSystem("bob", home)
				s.OS = OSInfo{Family: MacOS, Name: "macOS", Version: "14.4", Arch: "arm64"}
				return s
			},
			wantErr: ErrIncompatible, wantMsg: []string{RuleCrossFamily, "Linux", "macOS"},
		},
		{
			name: "earlier distribution release",
			sys: func(home string) *System {
				s := linuxSystem("bob", home)
				s.OS.Version = "12"
				return s
			},
			wantErr: ErrIncompatible, wantMsg: []string{RuleOlderOS},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			staging, home := capturedPersona(t)
			if tc.damage != nil {
				tc.damage(t, staging)
			}
			before := snapshotTree(t, home)
			var sys *System
			if tc.sys != nil {
				sys = tc.sys(home)
			}
			_, err := Apply(context.Background(), applyTo(staging, home, sys))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, s := range tc.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if d := diffTrees(before, snapshotTree(t, home)); d != "" {
				t.Errorf("something was written:\n%s", d)
			}
		})
	}
}

func TestCatalogRefusesEscapingPaths(t *testing.T) {
	tests := []struct {
		name, json string
		want       error
	}{
		{"parent", `{"entries":[{"id":"linux/x","os":"linux","files":[{"path":"../../etc/passwd"}]}]}`, ErrEscapesHome},
		{"inner parent", `{"entries":[{"id":"linux/x","os":"linux","files":[{"path":".config/../../x"}]}]}`, ErrEscapesHome},
		{"absolute", `{"entries":[{"id":"linux/x","os":"linux","files":[{"path":"/etc/passwd"}]}]}`, ErrEscapesHome},
		{"glob", `{"entries":[{"id":"linux/x","os":"linux","files":[{"path":".config","include":["../*"]}]}]}`, ErrEscapesHome},
		{"secret", `{"entries":[{"id":"linux/x","os":"linux","secrets":[{"path":"../y","reason":"r"}]}]}`, ErrEscapesHome},
		{"windows drive", `{"entries":[{"id":"windows/x","os":"windows","files":[{"path":"C:/Windows"}]}]}`, ErrEscapesHome},
		{"system not clean", `{"entries":[{"id":"linux/x","os":"linux","files":[{"base":"system","path":"/etc/../root"}]}]}`, ErrCatalog},
		{"bad id", `{"entries":[{"id":"x","os":"linux","files":[{"path":".x"}]}]}`, ErrCatalog},
		{"os mismatch", `{"entries":[{"id":"linux/x","os":"windows","files":[{"path":".x"}]}]}`, ErrCatalog},
		{"unknown field", `{"entries":[{"id":"linux/x","os":"linux","file":[{"path":".x"}]}]}`, ErrCatalog},
		{"hklm", `{"entries":[{"id":"windows/x","os":"windows","exports":[{"kind":"reg","key":"HKLM\\SOFTWARE"}]}]}`, ErrCatalog},
		{"unknown export", `{"entries":[{"id":"linux/x","os":"linux","exports":[{"kind":"shell","key":"rm"}]}]}`, ErrCatalog},
		{"duplicate", `{"entries":[{"id":"linux/x","os":"linux","files":[{"path":".x"}]},{"id":"linux/x","os":"linux","files":[{"path":".y"}]}]}`, ErrCatalog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeCatalog([]byte(tc.json)); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// A bad catalog file stops the capture before anything is written.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, tests[0].json, 0o644)
	if _, err := LoadCatalog("", bad); !errors.Is(err, ErrEscapesHome) || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadCatalog: %v", err)
	}
}

func TestCaptureStagingMustBeEmpty(t *testing.T) {
	home := t.TempDir()
	staging := t.TempDir()
	writeFile(t, filepath.Join(staging, "old"), "x", 0o644)
	_, err := Capture(context.Background(), CaptureOptions{Staging: staging, System: linuxSystem("ann", home), Root: boolPtr(false)})
	if !errors.Is(err, ErrStagingNotEmpty) {
		t.Errorf("err = %v", err)
	}
}

func TestCaptureRefusesWindowsServer(t *testing.T) {
	home := t.TempDir()
	sys := &System{Device: "srv", User: "admin", Home: home,
		OS: OSInfo{Family: Windows, Name: "Windows Server 2022 Standard", Version: "10", Build: "20348", Edition: "ServerStandard", Arch: "amd64"}}
	staging := filepath.Join(t.TempDir(), "s")
	_, err := Capture(context.Background(), CaptureOptions{Staging: staging, System: sys, Root: boolPtr(false), Runner: &fakeRunner{}})
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), RuleUnsupported) {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(staging); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging folder was created")
	}
}

// TestApplySystemFilesNeedTheCatalog: a persona cannot make root write a
// system file unless this device's catalog names it.
func TestApplySystemFilesNeedTheCatalog(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	home := filepath.Join(base, "home", "ann")
	sysDir := filepath.Join(base, "etc", "evil")
	writeFile(t, filepath.Join(sysDir, "conf"), "owned\n", 0o644)
	mkdir(t, home, 0o755)
	cat, err := DecodeCatalog([]byte(`{"entries":[{"id":"linux/evil","os":"linux","root":true,"files":[{"base":"system","path":"` + filepath.ToSlash(sysDir) + `"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(base, "staging")
	if _, err := Capture(ctx, CaptureOptions{Staging: staging, Catalog: &cat, System: linuxSystem("ann", home), Root: boolPtr(true), Now: fixedClock}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(sysDir); err != nil {
		t.Fatal(err)
	}
	o := applyTo(staging, home, nil)
	o.Root = boolPtr(true)
	rep, err := Apply(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sysDir, "conf")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("system file written without a catalog entry")
	}
	if !rep.Incomplete() || len(rep.Entries) != 1 || len(rep.Entries[0].Skipped) == 0 || !strings.Contains(rep.Entries[0].Skipped[0].Reason, "catalog") {
		t.Errorf("report: %+v", rep.Entries)
	}
	o.Catalog = &cat
	if _, err := Apply(ctx, o); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(sysDir, "conf")); got != "owned\n" {
		t.Errorf("with the entry in the catalog: %q", got)
	}
}
