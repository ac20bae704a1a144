//go:build linux

package integration

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// personaHome writes a small Linux home for user ann at dir.
func personaHome(t *testing.T, dir string) {
	t.Helper()
	coreWrite(t, filepath.Join(dir, ".bashrc"), []byte("export PATH=\""+dir+"/bin:$PATH\"\nalias ll='ls -l'\n"), 0o644)
	coreWrite(t, filepath.Join(dir, ".gitconfig"), []byte("[user]\n\tname = Ann\n[core]\n\texcludesfile = "+dir+"/.gitignore_global\n"), 0o644)
	coreWrite(t, filepath.Join(dir, ".ssh", "config"), []byte("Host x\n  IdentityFile "+dir+"/.ssh/id_ed25519\n"), 0o600)
	coreWrite(t, filepath.Join(dir, ".ssh", "id_ed25519"), []byte("not a key\n"), 0o600)
	if err := os.Chmod(filepath.Join(dir, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(dir, ".mozilla", "firefox", "p1.default")
	coreWrite(t, filepath.Join(dir, ".mozilla", "firefox", "profiles.ini"), []byte("[Profile0]\nName=default\nIsRelative=1\nPath=p1.default\nDefault=1\n"), 0o644)
	coreWrite(t, filepath.Join(prof, "prefs.js"), []byte(`user_pref("browser.download.dir", "`+dir+`/Downloads");`+"\n"), 0o644)
	coreWrite(t, filepath.Join(dir, ".config", "gtk-3.0", "bookmarks"), []byte("file://"+dir+"/Documents\n"), 0o644)
}

// homeState lists every file under dir with its mode and content, and
// every folder with its mode.
func homeState(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		fi, _ := d.Info()
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			line += " " + string(data)
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestPersonaMigrationThroughMount: capture ann's home, apply it to bob's
// from the repository and from a mounted persona folder: the same result,
// remapped paths and exact modes; dry run writes nothing; a second apply
// changes nothing; undo restores the home.
func TestPersonaMigrationThroughMount(t *testing.T) {
	mountRequire(t)
	e := newEnv(t)
	ann := filepath.Join(e.dir, "home", "ann")
	bob := filepath.Join(e.dir, "home", "bob")
	personaHome(t, ann)
	coreWrite(t, filepath.Join(bob, ".bashrc"), []byte("# bob's own\n"), 0o644)
	before := homeState(t, bob)
	undo := filepath.Join(e.dir, "undo")
	apply := func(args ...string) result {
		t.Helper()
		return e.mustRun(append([]string{"persona", "apply", "--home", bob, "--user", "bob", "--undo-dir", undo}, args...)...)
	}

	if r := e.run("persona", "capture", "--home", ann); r.code != 0 && r.code != 3 {
		t.Fatalf("capture: %s", r)
	}
	apply("--dry-run", "latest")
	if got := homeState(t, bob); got != before {
		t.Fatalf("--dry-run changed bob's home:\n%s", got)
	}

	apply("latest")
	fromRepo := homeState(t, bob)
	for _, f := range []string{".bashrc", ".gitconfig", ".ssh/config", ".config/gtk-3.0/bookmarks", ".mozilla/firefox/p1.default/prefs.js"} {
		data, err := os.ReadFile(filepath.Join(bob, f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(ann)) || !bytes.Contains(data, []byte(bob)) {
			t.Errorf("%s not remapped to bob's home:\n%s", f, data)
		}
	}
	for f, want := range map[string]os.FileMode{".ssh": 0o700 | os.ModeDir, ".ssh/config": 0o600, ".ssh/id_ed25519": 0o600} {
		if fi, err := os.Stat(filepath.Join(bob, f)); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", f, fi.Mode(), err, want)
		}
	}
	apply("latest")
	if got := homeState(t, bob); got != fromRepo {
		t.Fatal("a second apply changed bob's home")
	}

	// Undo both applies: bob's home is as it was, byte for byte.
	e.mustRun("persona", "apply", "--home", bob, "--undo-dir", undo, "--undo")
	e.run("persona", "apply", "--home", bob, "--undo-dir", undo, "--undo")
	if got := homeState(t, bob); got != before {
		t.Fatalf("undo left bob's home different:\n%s\nwant:\n%s", got, before)
	}

	// The same persona applied straight from the mount.
	mp := filepath.Join(e.dir, "mnt")
	s := startMount(t, e, cabinetBin, mp)
	apply("--from", filepath.Join(mp, "testdevice", "persona", "latest"))
	s.Stop(t)
	if got := homeState(t, bob); got != fromRepo {
		t.Fatalf("apply from the mount differs from apply from the repository:\n%s\nwant:\n%s", got, fromRepo)
	}
	e.mustCheck()
}
