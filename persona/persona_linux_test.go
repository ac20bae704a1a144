package persona

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// linuxEntries are the entries the end-to-end test captures: everything
// that lives in the home (system entries would touch the test machine).
var linuxEntries = []string{"bash", "zsh", "git", "ssh", "gnupg", "firefox", "gtk", "chrome", "keyrings", "gnome"}

const profile = ".mozilla/firefox/abcd1234.default-release"

// makeSourceHome builds a realistic home for user ann, with a dconf
// database when withDconf.
func makeSourceHome(t *testing.T, home string, withDconf bool) {
	t.Helper()
	writeFile(t, filepath.Join(home, ".bashrc"), "export PATH="+home+"/bin:$PATH\nalias ll='ls -l'\n", 0o644)
	setXattr(t, filepath.Join(home, ".bashrc"), "user.origin", "ann")
	writeFile(t, filepath.Join(home, ".profile"), "# ~/.profile\n. \"$HOME/.bashrc\"\n", 0o644)
	writeFile(t, filepath.Join(home, ".zshrc"), "export ZDOTDIR="+home+"\nsetopt autocd\n", 0o600)
	writeFile(t, filepath.Join(home, ".gitconfig"), "[user]\n\tname = Ann Example\n[core]\n\texcludesfile = "+home+"/.gitignore_global\n", 0o644)
	mkdir(t, filepath.Join(home, ".ssh"), 0o700)
	writeFile(t, filepath.Join(home, ".ssh", "id_ed25519"), "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", 0o600)
	writeFile(t, filepath.Join(home, ".ssh", "id_ed25519.pub"), "ssh-ed25519 AAAA ann@laptop\n", 0o644)
	writeFile(t, filepath.Join(home, ".ssh", "config"), "Host git\n  IdentityFile "+home+"/.ssh/id_ed25519\n", 0o600)
	writeFile(t, filepath.Join(home, ".ssh", "known_hosts"), "git.example.com ssh-ed25519 AAAA\n", 0o644)
	mkdir(t, filepath.Join(home, ".gnupg"), 0o700)
	writeFile(t, filepath.Join(home, ".gnupg", "pubring.kbx"), "KBX\x00binary", 0o600)
	writeFile(t, filepath.Join(home, ".mozilla/firefox/profiles.ini"), "[Profile0]\nName=default-release\nIsRelative=1\nPath=abcd1234.default-release\nDefault=1\n", 0o644)
	mkdir(t, filepath.Join(home, profile), 0o700)
	writeFile(t, filepath.Join(home, profile, "prefs.js"), `user_pref("browser.download.dir", "`+home+`/Downloads");`+"\n"+
		`user_pref("browser.startup.homepage", "https://example.com/ann/start");`+"\n"+
		`user_pref("browser.download.lastDir", "`+home+`/Documents/ann");`+"\n", 0o600)
	writeFile(t, filepath.Join(home, profile, "compatibility.ini"), "[Compatibility]\nLastVersion=128.0.3_20240709/20240709\nLastPlatformDir=/usr/lib/firefox\n", 0o644)
	writeFile(t, filepath.Join(home, profile, "places.sqlite"), "SQLite format 3\x00"+home+"\x00\x01\x02", 0o644)
	writeFile(t, filepath.Join(home, profile, "cache2/entries/ABCDEF"), "cached", 0o644)
	writeFile(t, filepath.Join(home, profile, "extensions/uBlock0@raymondhill.net.xpi"), "PK\x03\x04zip", 0o644)
	writeFile(t, filepath.Join(home, ".config/gtk-3.0/bookmarks"), "file://"+home+"/Documents Documents\nsmb://fileserver/ann ann-share\n", 0o644)
	writeFile(t, filepath.Join(home, ".config/google-chrome/Default/Bookmarks"), `{"roots": {}}`, 0o600)
	writeFile(t, filepath.Join(home, ".config/google-chrome/Default/Login Data"), "SQLite format 3\x00secrets", 0o600)
	writeFile(t, filepath.Join(home, ".local/share/keyrings/login.keyring"), "GnomeKeyring\n\r\x00\n", 0o600)
	writeFile(t, filepath.Join(home, "Documents/notes.txt"), "not a setting", 0o644)

	if !withDconf {
		return
	}
	kf := filepath.Join(t.TempDir(), "keyfiles")
	writeFile(t, filepath.Join(kf, "00-settings"), "[org/gnome/desktop/interface]\ngtk-theme='Adwaita-dark'\n\n"+
		"[org/gnome/desktop/background]\npicture-uri='file://"+home+"/Pictures/wall.jpg'\n", 0o644)
	mkdir(t, filepath.Join(home, ".config/dconf"), 0o700)
	out, err := exec.Command("dconf", "compile", filepath.Join(home, ".config/dconf/user"), kf).CombinedOutput()
	if err != nil {
		t.Fatalf("dconf compile: %v: %s", err, out)
	}
}

func TestCaptureApplyLinux(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	oldHome := filepath.Join(base, "home", "ann")
	newHome := filepath.Join(base, "home", "bob")
	mkdir(t, oldHome, 0o755)
	mkdir(t, newHome, 0o750)
	missing := ""
	for _, tool := range []string{"dconf", "dbus-run-session"} {
		if _, err := exec.LookPath(tool); err != nil && missing == "" {
			missing = tool
		}
	}
	haveDconf := missing == ""
	makeSourceHome(t, oldHome, haveDconf)
	defer t.Run("dconf", func(t *testing.T) {
		if !haveDconf {
			t.Skipf("%s not installed (apt-get install dconf-cli dbus): GNOME settings capture and apply not tested", missing)
		}
	})

	// --- capture
	staging := filepath.Join(base, "staging")
	rep, err := Capture(ctx, CaptureOptions{
		Staging: staging, System: linuxSystem("ann", oldHome), Root: boolPtr(false),
		Now: fixedClock, Select: Selector{Only: linuxEntries}, Processes: noProcesses,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Manifest
	if m.Home != oldHome || m.User != "ann" || m.OS.Version != "13" || !m.Created.Equal(testNow) {
		t.Errorf("manifest header: %+v", m)
	}
	if m.Apps["firefox"].Version != "128.0.3" {
		t.Errorf("firefox version = %q", m.Apps["firefox"].Version)
	}
	wantStatus := map[string]string{
		"linux/bash": StatusCaptured, "linux/ssh": StatusCaptured, "linux/firefox": StatusCaptured,
		"linux/gtk": StatusCaptured, "linux/chrome": StatusPartial, "linux/keyrings": StatusNotPortable,
		"linux/network": StatusExcluded, "linux/kde": StatusExcluded, "linux/thunderbird": StatusNotFound,
	}
	for id, want := range wantStatus {
		r, ok := m.Entry(id)
		if !ok {
			t.Errorf("manifest lacks %s", id)
			continue
		}
		if id == "linux/thunderbird" {
			continue // excluded by --only, see below
		}
		if r.Status != want {
			t.Errorf("%s: status %q (%s), want %q", id, r.Status, r.Reason, want)
		}
	}
	chrome, _ := m.Entry("linux/chrome")
	if len(chrome.NotPortable) != 1 || !strings.HasSuffix(chrome.NotPortable[0].Path, "Login Data") || !strings.Contains(chrome.NotPortable[0].Reason, "not portable") {
		t.Errorf("chrome not portable: %+v", chrome.NotPortable)
	}
	if _, err := os.Stat(filepath.Join(staging, "files/linux/chrome/home/.config/google-chrome/Default/Login Data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("machine-bound Login Data was captured")
	}
	if _, err := os.Stat(filepath.Join(staging, "files/linux/firefox/home", profile, "cache2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("firefox cache2 was captured")
	}
	if got := readFile(t, filepath.Join(staging, "files/linux/firefox/home", profile, "prefs.js")); !strings.Contains(got, oldHome) {
		t.Errorf("staged prefs.js was changed: %s", got)
	}
	if haveDconf {
		g, _ := m.Entry("linux/gnome")
		if g.Status != StatusCaptured || len(g.Exports) != 1 {
			t.Fatalf("gnome: %+v", g)
		}
		containsAll(t, "dconf dump", readFile(t, filepath.Join(staging, g.Exports[0].Stored)), "gtk-theme='Adwaita-dark'", oldHome)
	}

	// The target home already has some state of its own.
	writeFile(t, filepath.Join(newHome, ".bashrc"), "# bob's own bashrc\n", 0o644)
	setXattr(t, filepath.Join(newHome, ".bashrc"), "user.origin", "bob")
	mkdir(t, filepath.Join(newHome, ".ssh"), 0o755)
	writeFile(t, filepath.Join(newHome, ".ssh", "known_hosts"), "old.example.com ssh-rsa BBBB\n", 0o600)
	if err := os.Symlink(".bashrc", filepath.Join(newHome, ".zshrc")); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, newHome)
	undoDir := filepath.Join(base, "undo")
	applyOpts := func(from string) ApplyOptions {
		return ApplyOptions{From: from, Home: newHome, System: linuxSystem("bob", newHome), Root: boolPtr(false),
			Now: fixedClock, UndoDir: undoDir, Processes: noProcesses}
	}

	// --- dry run: a plan, nothing written
	o := applyOpts(staging)
	o.DryRun = true
	dry, err := Apply(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Changed == 0 || dry.UndoSet != "" {
		t.Errorf("dry run: changed %d, undo %q", dry.Changed, dry.UndoSet)
	}
	if d := diffTrees(before, snapshotTree(t, newHome)); d != "" {
		t.Fatalf("dry run wrote:\n%s", d)
	}
	if _, err := os.Stat(undoDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run created the undo folder")
	}

	// --- apply
	ar, err := Apply(ctx, applyOpts(staging))
	if err != nil {
		t.Fatal(err)
	}
	if ar.UndoSet == "" || ar.Changed == 0 || ar.User != "bob" {
		t.Fatalf("apply report: %+v", ar)
	}
	checkApplied(t, oldHome, newHome, haveDconf)
	after := snapshotTree(t, newHome)
	var chromeRes *EntryResult
	for i := range ar.Entries {
		if ar.Entries[i].ID == "linux/chrome" {
			chromeRes = &ar.Entries[i]
		}
	}
	if chromeRes == nil || len(chromeRes.Skipped) != 1 || !strings.Contains(chromeRes.Skipped[0].Reason, "not portable") {
		t.Errorf("chrome result: %+v", chromeRes)
	}

	// --- second apply: a no-op
	ar2, err := Apply(ctx, applyOpts(staging))
	if err != nil {
		t.Fatal(err)
	}
	if ar2.Changed != 0 || ar2.UndoSet != "" {
		t.Errorf("second apply changed %d (undo %q): %+v", ar2.Changed, ar2.UndoSet, ar2.Entries)
	}
	if d := diffTrees(after, snapshotTree(t, newHome)); d != "" {
		t.Errorf("second apply changed files:\n%s", d)
	}
	if sets, _ := UndoSets(undoDir); len(sets) != 1 {
		t.Errorf("undo sets after two applies: %v", sets)
	}

	// --- undo: the previous state, byte for byte
	ur, err := Undo(ctx, UndoOptions{Dir: undoDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(ur.Problems) > 0 {
		t.Errorf("undo problems: %v", ur.Problems)
	}
	if d := diffTrees(before, snapshotTree(t, newHome)); d != "" {
		t.Errorf("undo did not restore the previous state:\n%s", d)
	}
	if _, err := Undo(ctx, UndoOptions{Dir: undoDir}); !errors.Is(err, ErrNoUndo) {
		t.Errorf("second undo: %v, want ErrNoUndo", err)
	}

	// --- apply from a mounted (read-only) persona folder: same result
	mnt := filepath.Join(base, "mnt", "laptop", "persona", "2026-11-21 10.30.05")
	copyTree(t, staging, mnt)
	readOnlyTree(t, filepath.Join(base, "mnt"))
	if _, err := Apply(ctx, applyOpts(mnt)); err != nil {
		t.Fatal(err)
	}
	if d := diffTrees(after, snapshotTree(t, newHome)); d != "" {
		t.Errorf("apply from the mount differs from apply from the folder:\n%s", d)
	}
}

func checkApplied(t *testing.T, oldHome, newHome string, haveDconf bool) {
	t.Helper()
	modes := map[string]os.FileMode{
		".ssh": 0o700 | os.ModeDir, ".ssh/id_ed25519": 0o600, ".ssh/id_ed25519.pub": 0o644, ".ssh/config": 0o600,
		".ssh/known_hosts": 0o644, ".gnupg": 0o700 | os.ModeDir, ".gnupg/pubring.kbx": 0o600,
		".zshrc": 0o600, ".bashrc": 0o644, profile: 0o700 | os.ModeDir, profile + "/prefs.js": 0o600,
	}
	for rel, want := range modes {
		st, err := os.Lstat(filepath.Join(newHome, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if got := st.Mode() & (os.ModeDir | os.ModeSymlink | os.ModePerm); got != want {
			t.Errorf("%s: mode %v, want %v", rel, got, want)
		}
	}
	prefs := readFile(t, filepath.Join(newHome, profile, "prefs.js"))
	containsAll(t, "prefs.js", prefs, newHome+"/Downloads", newHome+"/Documents/bob", "https://example.com/ann/start")
	if strings.Contains(prefs, oldHome) {
		t.Errorf("prefs.js still names the old home:\n%s", prefs)
	}
	containsAll(t, ".bashrc", readFile(t, filepath.Join(newHome, ".bashrc")), "export PATH="+newHome+"/bin")
	if xs, ok := readXattrs(filepath.Join(newHome, ".bashrc")); ok && string(xs["user.origin"]) != "ann" {
		t.Errorf(".bashrc extended attributes: %q", xs)
	}
	containsAll(t, ".gitconfig", readFile(t, filepath.Join(newHome, ".gitconfig")), "excludesfile = "+newHome+"/.gitignore_global", "Ann Example")
	containsAll(t, "gtk bookmarks", readFile(t, filepath.Join(newHome, ".config/gtk-3.0/bookmarks")), "file://"+newHome+"/Documents Documents", "smb://fileserver/ann")
	containsAll(t, "ssh config", readFile(t, filepath.Join(newHome, ".ssh/config")), "IdentityFile "+newHome+"/.ssh/id_ed25519")
	// Binary files are copied as they are.
	if got := readFile(t, filepath.Join(newHome, profile, "places.sqlite")); got != "SQLite format 3\x00"+oldHome+"\x00\x01\x02" {
		t.Errorf("places.sqlite changed: %q", got)
	}
	for _, absent := range []string{".config/google-chrome/Default/Login Data", ".local/share/keyrings/login.keyring", profile + "/cache2", "Documents/notes.txt"} {
		if _, err := os.Lstat(filepath.Join(newHome, absent)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was applied", absent)
		}
	}
	if haveDconf {
		out, err := exec.Command("env", "HOME="+newHome, "XDG_CONFIG_HOME="+newHome+"/.config", "XDG_RUNTIME_DIR="+t.TempDir(), "dconf", "dump", "/").CombinedOutput()
		if err != nil {
			t.Fatalf("dconf dump: %v: %s", err, out)
		}
		containsAll(t, "dconf of the new home", string(out), "gtk-theme='Adwaita-dark'", "file://"+newHome+"/Pictures/wall.jpg")
	}
}

// setXattr sets a user attribute where the file system supports them.
func setXattr(t *testing.T, p, name, value string) {
	t.Helper()
	if err := unix.Lsetxattr(p, name, []byte(value), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
		t.Fatalf("setxattr %s: %v", p, err)
	}
}
