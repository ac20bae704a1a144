package persona

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// regFake plays reg.exe: exports the committed sample for the Outlook key,
// answers "unable to find" for other keys, and records imports.
type regFake struct {
	sample   []byte
	imported map[string][]byte // key of the import order → content
	deleted  []string
}

func (r *regFake) run(c Command) ([]byte, error) {
	if c.Name != "reg" {
		return nil, fmt.Errorf("%s: %w", c.Name, ErrToolMissing)
	}
	switch c.Args[0] {
	case "export":
		if strings.EqualFold(c.Args[1], `HKCU\Software\Microsoft\Office\16.0\Outlook`) {
			return nil, os.WriteFile(c.Args[2], r.sample, 0o600)
		}
		return nil, errors.New("ERROR: The system was unable to find the specified registry key or value.")
	case "import":
		b, err := os.ReadFile(c.Args[1])
		r.imported[fmt.Sprint(len(r.imported))] = b
		return nil, err
	case "delete":
		r.deleted = append(r.deleted, c.Args[1])
		return nil, nil
	}
	return nil, fmt.Errorf("reg %v: unexpected", c.Args)
}

func windowsSystem(user, home string) *System {
	return &System{Device: "PC-" + strings.ToUpper(user), User: user, Home: home, Language: "en-US",
		OS:   OSInfo{Family: Windows, ID: "windows", Name: "Windows 10 Pro", Version: "10", Build: "19045", Edition: "Professional", Arch: "amd64"},
		Apps: map[string]AppInfo{"office": {Version: "16.0.17328.20142", Arch: "x64"}, "outlook": {Version: "16.0.17328.20142", Arch: "x64"}}}
}

// TestWindowsOutlookFlow runs the Windows capture and apply code paths
// (reg export/import through a Runner, PST placement, DPAPI secrets) on
// the committed UTF-16 sample export.
func TestWindowsOutlookFlow(t *testing.T) {
	ctx := context.Background()
	sample, err := os.ReadFile(sampleReg)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	oldHome := filepath.Join(base, "Users", "ann")
	newHome := filepath.Join(base, "Users", "bob")
	mkdir(t, newHome, 0o755)
	writeFile(t, filepath.Join(oldHome, "Documents/Outlook Files/archive.pst"), "!BDN pst data", 0o644)
	writeFile(t, filepath.Join(oldHome, "AppData/Local/Microsoft/Outlook/ann@example.com.ost"), "cache", 0o644)
	writeFile(t, filepath.Join(oldHome, "AppData/Roaming/Microsoft/Signatures/Work.htm"), `<img src="C:\Users\ann\AppData\Roaming\Microsoft\Signatures\Work_files\image001.png">`, 0o644)
	writeFile(t, filepath.Join(oldHome, "AppData/Local/Google/Chrome/User Data/Default/Bookmarks"), `{"roots":{}}`, 0o644)
	writeFile(t, filepath.Join(oldHome, "AppData/Local/Google/Chrome/User Data/Default/Login Data"), "DPAPI", 0o644)

	fake := &regFake{sample: sample, imported: map[string][]byte{}}
	runner := &fakeRunner{fn: fake.run}
	staging := filepath.Join(base, "staging")
	rep, err := Capture(ctx, CaptureOptions{Staging: staging, System: windowsSystem("ann", oldHome), Root: boolPtr(false), Now: fixedClock,
		Runner: runner, Select: Selector{Only: []string{"outlook", "chrome"}}, Processes: noProcesses})
	if err != nil {
		t.Fatal(err)
	}
	ol, _ := rep.Manifest.Entry("windows/outlook")
	if ol.Status != StatusPartial || len(ol.Exports) != 1 || ol.Exports[0].Key != `HKCU\Software\Microsoft\Office\16.0\Outlook` {
		t.Fatalf("outlook record: %+v", ol)
	}
	var pst *FileRecord
	for i := range ol.Files {
		if strings.HasSuffix(ol.Files[i].Path, ".ost") {
			t.Errorf("OST cache captured")
		}
		if ol.Files[i].PST {
			pst = &ol.Files[i]
		}
	}
	if pst == nil || pst.Path != "Documents/Outlook Files/archive.pst" {
		t.Fatalf("PST not recorded: %+v", ol.Files)
	}
	ch, _ := rep.Manifest.Entry("windows/chrome")
	if len(ch.NotPortable) != 1 || !strings.Contains(ch.NotPortable[0].Reason, "re-enter passwords") {
		t.Errorf("chrome Login Data: %+v", ch.NotPortable)
	}

	// The persona says C:\Users\ann: the manifest of a real Windows capture.
	mp := filepath.Join(staging, ManifestName)
	writeFile(t, mp, strings.ReplaceAll(readFile(t, mp), jsonString(oldHome), jsonString(`C:\Users\ann`)), 0o600)

	// On the target, "Documents" is a file: the PST's folder cannot be made.
	writeFile(t, filepath.Join(newHome, "Documents"), "in the way", 0o644)
	before := snapshotTree(t, newHome)
	opts := ApplyOptions{From: staging, Home: newHome, System: windowsSystem("bob", newHome), Root: boolPtr(false), Now: fixedClock,
		Runner: runner, UndoDir: filepath.Join(base, "undo"), Processes: noProcesses}
	ar, err := Apply(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(newHome, "Desktop", "restore.pst")); got != "!BDN pst data" {
		t.Errorf("restore.pst = %q", got)
	}
	var sawPST bool
	for _, e := range ar.Entries {
		for _, a := range e.Actions {
			sawPST = sawPST || a.Op == "restore-pst"
		}
	}
	if !sawPST {
		t.Errorf("no restore-pst action: %+v", ar.Entries)
	}
	if len(fake.imported) != 1 {
		t.Fatalf("imports: %d", len(fake.imported))
	}
	f, err := DecodeReg(fake.imported["0"])
	if err != nil {
		t.Fatalf("imported .reg: %v", err)
	}
	want := strings.ReplaceAll(newHome, "/", `\`) + `\Documents\Word`
	if got := regText(t, f, wordKey, "DOC-PATH"); got[0] != want {
		t.Errorf("imported DOC-PATH = %q, want %q", got[0], want)
	}
	if got := regText(t, f, driveKey, "RemotePath"); got[0] != `\\fileserver\users\bob` {
		t.Errorf("imported RemotePath = %q", got[0])
	}
	sig := readFile(t, filepath.Join(newHome, "AppData/Roaming/Microsoft/Signatures/Work.htm"))
	if strings.Contains(sig, `C:\Users\ann`) {
		t.Errorf("signature not remapped: %s", sig)
	}

	// Undo: files back, the key's previous export imported again.
	ur, err := Undo(ctx, UndoOptions{Dir: opts.UndoDir, Runner: runner})
	if err != nil || len(ur.Problems) > 0 {
		t.Fatal(err, ur.Problems)
	}
	if d := diffTrees(before, snapshotTree(t, newHome)); d != "" {
		t.Errorf("undo:\n%s", d)
	}
	if len(fake.imported) != 2 || string(fake.imported["1"]) != string(sample) {
		t.Errorf("undo did not import the saved key (%d imports)", len(fake.imported))
	}
	// reg import merges, so the key is deleted first: values the apply
	// added do not survive the undo.
	if len(fake.deleted) != 1 || !strings.EqualFold(fake.deleted[0], `HKCU\Software\Microsoft\Office\16.0\Outlook`) {
		t.Errorf("undo deleted %q before importing, want the Outlook key", fake.deleted)
	}
}

func jsonString(s string) string {
	return strings.ReplaceAll(s, `\`, `\\`)
}

func TestApplyOptions(t *testing.T) {
	ctx := context.Background()
	t.Run("keep existing", func(t *testing.T) {
		staging, home := capturedPersona(t)
		writeFile(t, filepath.Join(home, ".bashrc"), "mine\n", 0o644)
		o := applyTo(staging, home, nil)
		o.KeepExisting = true
		for i := 0; i < 2; i++ {
			rep, err := Apply(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if i == 1 && rep.Changed != 0 {
				t.Errorf("second apply with --keep-existing changed %d", rep.Changed)
			}
		}
		if got := readFile(t, filepath.Join(home, ".bashrc")); got != "mine\n" {
			t.Errorf(".bashrc overwritten: %q", got)
		}
		if got := readFile(t, filepath.Join(home, ".bashrc (1)")); got != "cd "+home+"\n" {
			t.Errorf(".bashrc (1) = %q", got)
		}
	})
	t.Run("running application", func(t *testing.T) {
		staging, home := capturedPersona(t)
		o := applyTo(staging, home, nil)
		// Pretend the entry needs git closed.
		mp := filepath.Join(staging, ManifestName)
		writeFile(t, mp, strings.Replace(readFile(t, mp), `"name": "Git",`, `"name": "Git", "processes": ["git-credential-manager-core"],`, 1), 0o600)
		o.Processes = func(context.Context) ([]string, error) { return []string{"bash", "git-credential-"}, nil } // comm is cut at 15 bytes
		rep, err := Apply(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(home, ".gitconfig")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf(".gitconfig written while the app runs")
		}
		if _, err := os.Stat(filepath.Join(home, ".bashrc")); err != nil {
			t.Errorf("other entries not applied: %v", err)
		}
		if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "git-credential-manager-core") {
			t.Errorf("warnings: %v", rep.Warnings)
		}
	})
	t.Run("language", func(t *testing.T) {
		staging, home := capturedPersona(t)
		sys := linuxSystem("bob", home)
		sys.Language = "de-DE"
		o := applyTo(staging, home, sys)
		if _, err := Apply(ctx, o); !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "en-US") || !strings.Contains(err.Error(), "de-DE") {
			t.Fatalf("err = %v", err)
		}
		o.Force = true
		rep, err := Apply(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], RuleLanguage) {
			t.Errorf("warnings: %v", rep.Warnings)
		}
	})
	t.Run("only and exclude", func(t *testing.T) {
		staging, home := capturedPersona(t)
		o := applyTo(staging, home, nil)
		o.Select = Selector{Only: []string{"linux/bash", "ssh"}, Exclude: []string{"ssh"}}
		if _, err := Apply(ctx, o); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]bool{".bashrc": true, ".gitconfig": false, ".ssh": false} {
			_, err := os.Stat(filepath.Join(home, p))
			if (err == nil) != want {
				t.Errorf("%s present = %v, want %v", p, err == nil, want)
			}
		}
	})
	t.Run("default undo folder", func(t *testing.T) {
		staging, home := capturedPersona(t)
		o := applyTo(staging, home, nil)
		o.UndoDir = ""
		rep, err := Apply(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(home, ".local/share/cabinet/persona-undo"); !strings.HasPrefix(rep.UndoSet, want) {
			t.Errorf("undo set %s, want under %s", rep.UndoSet, want)
		}
	})
}
