package persona

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCaptureDetails(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links and modes")
	}
	base := t.TempDir()
	home := filepath.Join(base, "home", "ann")
	dotfiles := filepath.Join(home, "dotfiles") // links are followed only inside the home
	writeFile(t, filepath.Join(dotfiles, "bashrc"), "from the dotfiles repo\n", 0o644)
	writeFile(t, filepath.Join(dotfiles, "kde", "kwinrc"), "[Windows]\n", 0o644)
	mkdir(t, filepath.Join(home, ".config"), 0o755)
	if err := os.Symlink(filepath.Join(dotfiles, "bashrc"), filepath.Join(home, ".bashrc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dotfiles, "kde"), filepath.Join(home, ".config", "kde-link")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, ".config/kwinrc"), "[Compositing]\n", 0o644)
	writeFile(t, filepath.Join(home, ".config/kdeglobals"), "[General]\n", 0o644)
	writeFile(t, filepath.Join(home, ".config/gtk-3.0/settings.ini"), "[Settings]\n", 0o644)
	writeFile(t, filepath.Join(home, ".config/autostart/x.desktop"), "[Desktop Entry]\n", 0o644)

	staging := filepath.Join(base, "staging")
	sys := linuxSystem("root", "/root") // capturing another user's home
	rep, err := Capture(context.Background(), CaptureOptions{Staging: staging, Home: home, System: sys, Root: boolPtr(false),
		Now: fixedClock, Select: Selector{Only: []string{"bash", "kde", "network"}},
		Processes: func(context.Context) ([]string, error) { return []string{"plasmashell"}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Manifest
	if m.User != "ann" {
		t.Errorf("user = %q, want the home's name", m.User)
	}
	st, err := os.Lstat(filepath.Join(staging, "files/linux/bash/home/.bashrc"))
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf(".bashrc (a link) not captured as a file: %v %v", st, err)
	}
	kde, _ := m.Entry("linux/kde")
	var got []string
	for _, f := range kde.Files {
		if !f.Dir {
			got = append(got, f.Path)
		}
	}
	if fmt.Sprint(got) != "[.config/kdeglobals .config/kwinrc]" {
		t.Errorf("kde files: %v", got)
	}
	if kde.Status != StatusPartial || len(kde.Problems) != 1 || !strings.Contains(kde.Problems[0], "plasmashell was running") {
		t.Errorf("kde captured while running: %s %v", kde.Status, kde.Problems)
	}
	nm, _ := m.Entry("linux/network")
	if nm.Status != StatusPermission || !strings.Contains(nm.Reason, "root") {
		t.Errorf("network without root: %+v", nm)
	}
	if _, err := ReadManifest(staging); err != nil {
		t.Errorf("written manifest does not read back: %v", err)
	}
}

// TestMacOSDefaultsFlow runs the macOS code paths (defaults export and
// import through a Runner, ByHost renaming) on the committed plist.
func TestMacOSDefaultsFlow(t *testing.T) {
	ctx := context.Background()
	plist, err := os.ReadFile("testdata/macos/com.apple.finder.plist")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	oldHome := filepath.Join(base, "Users", "ann")
	newHome := filepath.Join(base, "Users", "bob")
	mkdir(t, newHome, 0o755)
	const oldUUID, newUUID = "11111111-2222-3333-4444-555555555555", "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
	writeFile(t, filepath.Join(oldHome, "Library/Preferences/ByHost/com.apple.screensaver."+oldUUID+".plist"), "bplist00binary", 0o600)
	imports := map[string][]byte{}
	runner := &fakeRunner{fn: func(c Command) ([]byte, error) {
		if c.Name != "defaults" {
			return nil, fmt.Errorf("%s: %w", c.Name, ErrToolMissing)
		}
		switch c.Args[0] {
		case "export":
			if c.Args[1] == "com.apple.finder" && len(imports) == 0 {
				return []byte(strings.ReplaceAll(string(plist), "/Users/ann", oldHome)), nil
			}
			if b, ok := imports[c.Args[1]]; ok {
				return b, nil
			}
			return nil, fmt.Errorf("Domain %s does not exist", c.Args[1])
		case "import":
			b, err := os.ReadFile(c.Args[2])
			imports[c.Args[1]] = b
			return nil, err
		}
		return nil, fmt.Errorf("defaults %v", c.Args)
	}}
	sys := func(user, home, uuid string) *System {
		return &System{Device: "mac", User: user, Home: home, HardwareUUID: uuid, Language: "en-US",
			OS: OSInfo{Family: MacOS, ID: "macos", Name: "macOS", Version: "14.4.1", Build: "23E224", Arch: "arm64"}}
	}
	staging := filepath.Join(base, "staging")
	if _, err := Capture(ctx, CaptureOptions{Staging: staging, System: sys("ann", oldHome, oldUUID), Root: boolPtr(false), Now: fixedClock,
		Runner: runner, Select: Selector{Only: []string{"finder", "global"}}, Processes: noProcesses}); err != nil {
		t.Fatal(err)
	}
	o := ApplyOptions{From: staging, Home: newHome, System: sys("bob", newHome, newUUID), Root: boolPtr(false), Now: fixedClock,
		Runner: runner, UndoDir: filepath.Join(base, "undo"), Processes: noProcesses}
	if _, err := Apply(ctx, o); err != nil {
		t.Fatal(err)
	}
	v, err := DecodePlist(imports["com.apple.finder"])
	if err != nil {
		t.Fatalf("imported plist: %v", err)
	}
	if p := v.(map[string]any)["FXRecentFolders"].([]any)[0].(map[string]any)["path"]; p != newHome+"/Projects" {
		t.Errorf("imported path = %q", p)
	}
	if _, err := os.Stat(filepath.Join(newHome, "Library/Preferences/ByHost/com.apple.screensaver."+newUUID+".plist")); err != nil {
		t.Errorf("ByHost file not renamed: %v", err)
	}
	// Applying again finds the same domain content: nothing to import.
	n := len(runner.called("defaults"))
	rep, err := Apply(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed != 0 {
		t.Errorf("second apply changed %d", rep.Changed)
	}
	for _, c := range runner.called("defaults")[n:] {
		if c.Args[0] == "import" {
			t.Errorf("second apply imported again")
		}
	}
}

func TestFirefoxAbsoluteProfiles(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	oldHome := filepath.Join(base, "home", "ann")
	newHome := filepath.Join(base, "home", "bob")
	mkdir(t, newHome, 0o755)
	work := filepath.Join(oldHome, "Work", "ff-work")
	outside := filepath.Join(base, "srv", "ff-shared")
	writeFile(t, filepath.Join(oldHome, ".mozilla/firefox/profiles.ini"), "[Profile1]\nName=work\nIsRelative=0\nPath="+work+"\n\n"+
		"[Profile2]\nName=shared\nIsRelative=0\nPath="+outside+"\n\n[Profile0]\nName=default\nIsRelative=1\nPath=abc.default\nDefault=1\n", 0o644)
	writeFile(t, filepath.Join(oldHome, ".mozilla/firefox/abc.default/prefs.js"), "// default\n", 0o600)
	writeFile(t, filepath.Join(work, "prefs.js"), `user_pref("browser.download.dir", "`+oldHome+`/Work");`, 0o600)
	writeFile(t, filepath.Join(work, "cache2/x"), "cache", 0o600)
	writeFile(t, filepath.Join(work, "random.txt"), "not a setting", 0o600)
	writeFile(t, filepath.Join(outside, "prefs.js"), "// shared\n", 0o600)
	staging := filepath.Join(base, "staging")
	rep, err := Capture(ctx, CaptureOptions{Staging: staging, System: linuxSystem("ann", oldHome), Root: boolPtr(false), Now: fixedClock,
		Select: Selector{Only: []string{"firefox"}}, Processes: noProcesses})
	if err != nil {
		t.Fatal(err)
	}
	ff, _ := rep.Manifest.Entry("linux/firefox")
	var files []string
	for _, f := range ff.Files {
		if !f.Dir {
			files = append(files, f.Path)
		}
	}
	if fmt.Sprint(files) != "[.mozilla/firefox/abc.default/prefs.js .mozilla/firefox/profiles.ini Work/ff-work/prefs.js]" {
		t.Errorf("files: %v", files)
	}
	if len(ff.Problems) != 1 || !strings.Contains(ff.Problems[0], outside) {
		t.Errorf("problems: %v", ff.Problems)
	}
	if _, err := Apply(ctx, ApplyOptions{From: staging, Home: newHome, System: linuxSystem("bob", newHome), Root: boolPtr(false),
		Now: fixedClock, UndoDir: filepath.Join(base, "undo"), Processes: noProcesses}); err != nil {
		t.Fatal(err)
	}
	containsAll(t, "work prefs.js", readFile(t, filepath.Join(newHome, "Work/ff-work/prefs.js")), newHome+"/Work")
	containsAll(t, "profiles.ini", readFile(t, filepath.Join(newHome, ".mozilla/firefox/profiles.ini")), "Path="+newHome+"/Work/ff-work", "Path="+outside)
}
