package persona

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuiltinCatalog checks that every category of PERSONA.md's "first
// entries" has an entry, with the native export or files it names.
func TestBuiltinCatalog(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"windows/desktop":           {`reg HKCU\Control Panel\Desktop`, `reg HKCU\Control Panel\Mouse`, `reg HKCU\Control Panel\Keyboard`},
		"windows/regional":          {`HKCU\Control Panel\International`},
		"windows/accessibility":     {"Accessibility"},
		"windows/explorer":          {`Explorer\Advanced`},
		"windows/internet-explorer": {"~/Favorites", `Internet Explorer\Main`},
		"windows/firefox":           {"prefs.js", "logins.json", "key4.db"},
		"windows/chrome":            {"Bookmarks", "not portable: AppData/Local/Google/Chrome/User Data/*/Login Data"},
		"windows/outlook":           {`Outlook`, "Signatures", "*.pst"},
		"windows/office":            {"Normal.dotm", "UProof", "*.officeUI"},
		"windows/mapped-drives":     {`reg HKCU\Network`},
		"windows/printers":          {`reg HKCU\Printers\Connections`},
		"macos/network":             {"/Library/Preferences/SystemConfiguration/preferences.plist"},
		"macos/safari":              {"Bookmarks.plist", "History.db", "TopSites.plist", "defaults com.apple.Safari"},
		"macos/mail":                {"~/Library/Mail"},
		"macos/contacts":            {"AddressBook"},
		"macos/keychain":            {"login.keychain-db"},
		"macos/internet-accounts":   {"not portable: Library/Accounts/Accounts4.sqlite"},
		"macos/dock":                {"defaults com.apple.dock"},
		"macos/finder":              {"defaults com.apple.finder"},
		"macos/global":              {"defaults NSGlobalDomain", "ByHost"},
		"linux/gnome":               {"dconf /"},
		"linux/kde":                 {"*rc"},
		"linux/gtk":                 {"gtk-3.0", "bookmarks"},
		"linux/fonts":               {"fonts"},
		"linux/firefox":             {"~/.mozilla/firefox", "~/.config/mozilla/firefox", "pkcs11.txt", "compatibility.ini", "extensions.json"},
		"linux/chrome":              {"google-chrome", "chromium", "not portable"},
		"linux/thunderbird":         {"~/.thunderbird"},
		"linux/network":             {"/etc/NetworkManager/system-connections"},
		"linux/printers":            {"CUPS"},
		"linux/shares":              {"fstab", "auto.master"},
		"linux/bash":                {".bashrc", ".profile"},
		"linux/zsh":                 {".zshrc"},
		"linux/git":                 {".gitconfig"},
		"linux/ssh":                 {"~/.ssh"},
		"linux/gnupg":               {"~/.gnupg"},
		"linux/keyrings":            {"not portable: .local/share/keyrings"},
	}
	for id, parts := range want {
		e, ok := c.Entry(id)
		if !ok {
			t.Errorf("no entry %s", id)
			continue
		}
		d := e.Describe()
		for _, p := range parts {
			if !strings.Contains(d, p) {
				t.Errorf("%s: %q not in %q", id, p, d)
			}
		}
	}
	ssh, _ := c.Entry("linux/ssh")
	if ssh.Files[0].DirMode != "0700" || ssh.Files[0].FileMode != "0600" {
		t.Errorf("ssh modes: %+v", ssh.Files[0])
	}
	nm, _ := c.Entry("linux/network")
	if !nm.Root || nm.Reload != ReloadNetworkManager || nm.Files[0].FileMode != "0600" {
		t.Errorf("network manager entry: %+v", nm)
	}
	for _, os := range []string{Windows, MacOS, Linux} {
		if len(c.ForOS(os)) < 8 {
			t.Errorf("%s: only %d entries", os, len(c.ForOS(os)))
		}
	}
}

func TestLoadCatalogMerge(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "10-team.json"), `{"entries":[{"id":"linux/vim","os":"linux","name":"Vim","files":[{"path":".vimrc"}]}]}`, 0o644)
	writeFile(t, filepath.Join(dir, "20-bash.json"), `{"entries":[{"id":"linux/bash","os":"linux","name":"Bash (team)","files":[{"path":".bashrc"}]}]}`, 0o644)
	writeFile(t, filepath.Join(dir, "notes.txt"), "not a catalog", 0o644)
	extra := filepath.Join(t.TempDir(), "extra.json")
	writeFile(t, extra, `{"entries":[{"id":"windows/notepadpp","os":"windows","name":"Notepad++","files":[{"path":"AppData/Roaming/Notepad++","include":["*.xml"]}]}]}`, 0o644)
	c, err := LoadCatalog(dir, extra)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := c.Entry("linux/vim"); !ok || e.Name != "Vim" {
		t.Errorf("linux/vim: %+v", e)
	}
	if e, _ := c.Entry("linux/bash"); e.Name != "Bash (team)" || len(e.Files) != 1 {
		t.Errorf("linux/bash not replaced: %+v", e)
	}
	if _, ok := c.Entry("windows/notepadpp"); !ok {
		t.Errorf("--catalog file not read")
	}
	if _, err := LoadCatalog(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing catalog folder: %v", err)
	}
	if _, err := LoadCatalog("", filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing --catalog file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	writeFile(t, bad, `{"entries":[`, 0o644)
	if _, err := LoadCatalog("", bad); !errors.Is(err, ErrCatalog) {
		t.Errorf("truncated catalog: %v", err)
	}
}

func TestSelector(t *testing.T) {
	tests := []struct {
		sel  Selector
		id   string
		want bool
	}{
		{Selector{}, "windows/outlook", true},
		{Selector{Only: []string{"outlook", "chrome"}}, "windows/outlook", true},
		{Selector{Only: []string{"windows/outlook"}}, "windows/outlook", true},
		{Selector{Only: []string{"chrome"}}, "windows/outlook", false},
		{Selector{Exclude: []string{"printers"}}, "linux/printers", false},
		{Selector{Exclude: []string{" printers "}}, "linux/printers", false},
		{Selector{Only: []string{"out"}}, "windows/outlook", false},
	}
	for _, tc := range tests {
		if got := tc.sel.Selected(tc.id); got != tc.want {
			t.Errorf("%+v.Selected(%s) = %v", tc.sel, tc.id, got)
		}
	}
	if got := SplitList(" a,,b ,"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("SplitList: %q", got)
	}
}

// Catalog globs are internal/glob's MatchInside (tested there): relative,
// a trailing ** for what is inside a folder, and a folder's exclusion
// reaching everything in it.
func TestMatchGlob(t *testing.T) {
	for _, tc := range []struct {
		globs []string
		name  string
		want  bool
	}{
		{[]string{"*/prefs.js"}, "abc.default/prefs.js", true},
		{[]string{"x", "*/**"}, "gtk-3.0", false},
		{[]string{"x", "*/**"}, "gtk-3.0/bookmarks", true},
		{[]string{"*/cache2"}, "abc/cache2/entries/x", true},
		{[]string{"["}, "x", false},
	} {
		if got := compileGlobs(tc.globs).matchInside(tc.name); got != tc.want {
			t.Errorf("compileGlobs(%q).matchInside(%q) = %v", tc.globs, tc.name, got)
		}
	}
}
