//go:build !windows

package persona

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApplyDoesNotFollowLinksOutOfHome: a folder of the target home that
// is a symbolic link to a place outside the home is not followed; its
// items are reported as skipped, never as written. A link that stays
// inside the home is followed.
func TestApplyDoesNotFollowLinksOutOfHome(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, home, outside string)
		dryRun bool
		// check runs after the apply; skipped lists paths (relative to the
		// home) the report must list as skipped for a link.
		check   func(t *testing.T, home, outside string)
		skipped []string
	}{
		{
			name: "ssh folder links outside",
			setup: func(t *testing.T, home, outside string) {
				symlink(t, outside, filepath.Join(home, ".ssh"))
			},
			check: func(t *testing.T, home, outside string) {
				for _, n := range []string{"id_rsa", "authorized_keys"} {
					if _, err := os.Lstat(filepath.Join(outside, n)); err == nil {
						t.Errorf("apply wrote %s outside the home through ~/.ssh", n)
					}
				}
			},
			skipped: []string{".ssh/id_rsa", ".ssh/authorized_keys"},
		},
		{
			name:   "ssh folder links outside, dry run",
			dryRun: true,
			setup: func(t *testing.T, home, outside string) {
				symlink(t, outside, filepath.Join(home, ".ssh"))
			},
			check:   func(t *testing.T, home, outside string) {},
			skipped: []string{".ssh/id_rsa", ".ssh/authorized_keys"},
		},
		{
			name: "config folder links outside: no chmod, no write",
			setup: func(t *testing.T, home, outside string) {
				mkdir(t, filepath.Join(outside, "git"), 0o700)
				symlink(t, outside, filepath.Join(home, ".config"))
			},
			check: func(t *testing.T, home, outside string) {
				st, err := os.Stat(filepath.Join(outside, "git"))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o700 {
					t.Errorf("apply changed the mode of %s (outside the home) to %04o", filepath.Join(outside, "git"), st.Mode().Perm())
				}
				if _, err := os.Lstat(filepath.Join(outside, "git", "config")); err == nil {
					t.Errorf("apply wrote git/config outside the home through ~/.config")
				}
			},
			skipped: []string{".config/git", ".config/git/config"},
		},
		{
			name: "dangling link",
			setup: func(t *testing.T, home, outside string) {
				symlink(t, filepath.Join(outside, "gone"), filepath.Join(home, ".ssh"))
			},
			check: func(t *testing.T, home, outside string) {
				if _, err := os.Lstat(filepath.Join(outside, "gone")); err == nil {
					t.Errorf("apply created the target of a dangling link outside the home")
				}
			},
			skipped: []string{".ssh/id_rsa"},
		},
		{
			name: "link inside the home is followed",
			setup: func(t *testing.T, home, outside string) {
				mkdir(t, filepath.Join(home, "dotfiles", "ssh"), 0o700)
				symlink(t, filepath.Join("dotfiles", "ssh"), filepath.Join(home, ".ssh"))
			},
			check: func(t *testing.T, home, outside string) {
				if got := readFile(t, filepath.Join(home, "dotfiles", "ssh", "id_rsa")); got != "KEY" {
					t.Errorf("id_rsa through a link inside the home = %q", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			oldHome := filepath.Join(base, "home", "ann")
			home := filepath.Join(base, "home", "bob")
			outside := filepath.Join(base, "outside")
			mkdir(t, home, 0o755)
			mkdir(t, outside, 0o755)
			writeFile(t, filepath.Join(oldHome, ".ssh", "id_rsa"), "KEY", 0o600)
			writeFile(t, filepath.Join(oldHome, ".ssh", "authorized_keys"), "ssh-ed25519 AAAA ann", 0o600)
			writeFile(t, filepath.Join(oldHome, ".config", "git", "config"), "[user]\n\tname = Ann\n", 0o644)
			if err := os.Chmod(filepath.Join(oldHome, ".config", "git"), 0o755); err != nil {
				t.Fatal(err)
			}
			staging := filepath.Join(base, "staging")
			if _, err := Capture(context.Background(), CaptureOptions{Staging: staging, System: linuxSystem("ann", oldHome), Root: boolPtr(false),
				Now: fixedClock, Select: Selector{Only: []string{"ssh", "git"}}}); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, home, outside)
			o := applyTo(staging, home, nil)
			o.DryRun = tt.dryRun
			rep, err := Apply(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, home, outside)
			for _, e := range rep.Entries {
				for _, act := range e.Actions {
					if !insideDir(home, act.Path) {
						continue
					}
					if err := checkHomeLinks(home, realDir(home), act.Path, act.Op != "write"); err != nil {
						t.Errorf("report claims %s %s: %v", act.Op, act.Path, err)
					}
				}
			}
			for _, rel := range tt.skipped {
				want := filepath.Join(home, filepath.FromSlash(rel))
				found := false
				for _, e := range rep.Entries {
					for _, s := range e.Skipped {
						if s.Path == want && strings.Contains(s.Reason, "symbolic link") {
							found = true
						}
					}
				}
				if !found {
					t.Errorf("report does not list %s as skipped for a symbolic link: %+v", want, rep.Entries)
				}
			}
			if len(tt.skipped) > 0 && !rep.Incomplete() {
				t.Errorf("report with items skipped for a link is not Incomplete")
			}
		})
	}
}

func TestCheckHomeLinks(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home")
	mkdir(t, filepath.Join(home, "real", "sub"), 0o755)
	mkdir(t, filepath.Join(base, "out"), 0o755)
	symlink(t, "real", filepath.Join(home, "in"))
	symlink(t, filepath.Join(base, "out"), filepath.Join(home, "out"))
	symlink(t, "../..", filepath.Join(home, "real", "up"))
	symlink(t, filepath.Join(base, "out", "f"), filepath.Join(home, "file"))
	tests := []struct {
		p    string
		self bool
		bad  bool
	}{
		{p: "real/sub/x"},
		{p: "in/sub/x"},
		{p: "missing/a/b"},
		{p: "out/x", bad: true},
		{p: "out", self: true, bad: true},
		{p: "out"},  // the link itself is replaced, not followed
		{p: "file"}, // idem
		{p: "file", self: true, bad: true},
		{p: "real/up/x", bad: true},
		{p: "in/up/home/real/x", bad: true},
		{p: "../elsewhere/x"}, // not in the home: a system path, not checked
	}
	for _, tt := range tests {
		err := checkHomeLinks(home, realDir(home), filepath.Join(home, tt.p), tt.self)
		if (err != nil) != tt.bad {
			t.Errorf("checkHomeLinks(%s, self=%v) = %v, want refused %v", tt.p, tt.self, err, tt.bad)
		}
		if err != nil && !errors.Is(err, errLinkOutsideHome) {
			t.Errorf("checkHomeLinks(%s) = %v, not errLinkOutsideHome", tt.p, err)
		}
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestCaptureDoesNotFollowLinksOutOfHome: a symbolic link of the home is
// captured (as a file, or walked as a folder) only when it resolves
// inside the home; otherwise the entry records why it was not captured.
func TestCaptureDoesNotFollowLinksOutOfHome(t *testing.T) {
	tests := []struct {
		name    string
		only    string
		link    string // path of the link, relative to the home
		target  func(home, outside string) string
		stored  string // the file that must (not) be in the persona
		capture bool   // true: the link stays inside the home and is captured
	}{
		{name: "rule file links outside", only: "bash", link: ".bashrc",
			target: func(home, outside string) string { return filepath.Join(outside, "shadow") },
			stored: "files/linux/bash/home/.bashrc"},
		{name: "file in a rule folder links outside", only: "git", link: ".config/git/config",
			target: func(home, outside string) string { return filepath.Join(outside, "shadow") },
			stored: "files/linux/git/home/.config/git/config"},
		{name: "relative link climbing out", only: "git", link: ".config/git/config",
			target: func(home, outside string) string { return "../../../../outside/shadow" },
			stored: "files/linux/git/home/.config/git/config"},
		{name: "rule folder links outside", only: "ssh", link: ".ssh",
			target: func(home, outside string) string { return outside },
			stored: "files/linux/ssh/home/.ssh/shadow"},
		{name: "parent of a rule file links outside", only: "git", link: ".config",
			target: func(home, outside string) string { return outside },
			stored: "files/linux/git/home/.config/git/config"},
		{name: "link inside the home is captured", only: "bash", link: ".bashrc", capture: true,
			target: func(home, outside string) string { return filepath.Join(home, "dotfiles", "bashrc") },
			stored: "files/linux/bash/home/.bashrc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			home := filepath.Join(base, "home", "ann")
			outside := filepath.Join(base, "outside")
			mkdir(t, home, 0o755)
			writeFile(t, filepath.Join(outside, "shadow"), "root:$6$secret-hash:19000:0:99999:7:::\n", 0o600)
			writeFile(t, filepath.Join(outside, "git", "config"), "secret-hash\n", 0o600)
			writeFile(t, filepath.Join(home, "dotfiles", "bashrc"), "from the dotfiles repo\n", 0o644)
			if tt.link != ".config" {
				mkdir(t, filepath.Join(home, ".config", "git"), 0o755)
			}
			symlink(t, tt.target(home, outside), filepath.Join(home, filepath.FromSlash(tt.link)))
			staging := filepath.Join(base, "staging")
			rep, err := Capture(context.Background(), CaptureOptions{Staging: staging, System: linuxSystem("ann", home), Root: boolPtr(true),
				Now: fixedClock, Select: Selector{Only: []string{tt.only}}, Processes: noProcesses})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(staging, filepath.FromSlash(tt.stored)))
			rec, _ := rep.Manifest.Entry("linux/" + tt.only)
			if tt.capture {
				if err != nil || string(b) != "from the dotfiles repo\n" {
					t.Errorf("%s (link inside the home) = %q, %v", tt.stored, b, err)
				}
				return
			}
			if err == nil {
				t.Errorf("capture copied %s through a link out of the home: %q", tt.stored, b)
			}
			for _, f := range rec.Files {
				if strings.Contains(f.Path, "shadow") || f.Path == ".config/git/config" || f.Path == ".bashrc" {
					t.Errorf("manifest records %s", f.Path)
				}
			}
			if !strings.Contains(strings.Join(rec.Problems, "\n"), "symbolic link") {
				t.Errorf("entry does not say why the link was not captured: %+v", rec)
			}
			if rec.Status == StatusCaptured || rec.Status == StatusNotFound {
				t.Errorf("status %q hides the skipped link", rec.Status)
			}
		})
	}
}

// TestApplySwappedFolderNotFollowed: a folder of the home replaced by a
// link out of the home after apply checked it (a race with another
// process of the user) does not send the write there: the folder is
// opened through a Root of the home, which follows no such link.
func TestApplySwappedFolderNotFollowed(t *testing.T) {
	base := t.TempDir()
	oldHome := filepath.Join(base, "home", "ann")
	home := filepath.Join(base, "home", "bob")
	outside := filepath.Join(base, "outside")
	mkdir(t, filepath.Join(home, ".ssh"), 0o700)
	mkdir(t, outside, 0o755)
	writeFile(t, filepath.Join(oldHome, ".ssh", "id_rsa"), "KEY", 0o600)
	writeFile(t, filepath.Join(outside, "id_rsa"), "OUTSIDE", 0o644)
	staging := filepath.Join(base, "staging")
	if _, err := Capture(context.Background(), CaptureOptions{Staging: staging, System: linuxSystem("ann", oldHome), Root: boolPtr(false),
		Now: fixedClock, Select: Selector{Only: []string{"ssh"}}}); err != nil {
		t.Fatal(err)
	}
	for name, link := range map[string]string{"absolute": outside, "relative": "../../outside"} {
		t.Run(name, func(t *testing.T) {
			swapped := swapOnOpen(t, filepath.Join(home, ".ssh"), link)
			defer func() {
				os.Remove(filepath.Join(home, ".ssh"))
				os.Rename(filepath.Join(home, ".ssh.moved"), filepath.Join(home, ".ssh"))
			}()
			rep, err := Apply(context.Background(), applyTo(staging, home, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !*swapped {
				t.Fatal("the folder was never opened")
			}
			if got := readFile(t, filepath.Join(outside, "id_rsa")); got != "OUTSIDE" {
				t.Fatalf("apply wrote through the swapped folder: %q", got)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 {
				t.Errorf("apply left files outside the home: %v", ents)
			}
			if !rep.Incomplete() {
				t.Errorf("the write refused is not reported: %+v", rep.Entries)
			}
		})
	}
}

// TestUndoSwappedFolderNotFollowed: undo, like apply, writes through a
// Root of the home: ~/.ssh replaced by a link out of the home after the
// undo checked the record does not send the key it puts back there. By
// path it did.
func TestUndoSwappedFolderNotFollowed(t *testing.T) {
	base := t.TempDir()
	oldHome := filepath.Join(base, "home", "ann")
	home := filepath.Join(base, "home", "bob")
	outside := filepath.Join(base, "outside")
	mkdir(t, outside, 0o755)
	writeFile(t, filepath.Join(oldHome, ".ssh", "id_rsa"), "NEW KEY", 0o600)
	writeFile(t, filepath.Join(home, ".ssh", "id_rsa"), "OLD KEY", 0o600)
	staging := filepath.Join(base, "staging")
	if _, err := Capture(context.Background(), CaptureOptions{Staging: staging, System: linuxSystem("ann", oldHome), Root: boolPtr(false),
		Now: fixedClock, Select: Selector{Only: []string{"ssh"}}}); err != nil {
		t.Fatal(err)
	}
	o := applyTo(staging, home, nil)
	if _, err := Apply(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(home, ".ssh", "id_rsa")); got != "NEW KEY" {
		t.Fatalf("apply wrote %q", got)
	}
	swapped := swapOnOpen(t, filepath.Join(home, ".ssh"), outside)
	rep, err := Undo(context.Background(), UndoOptions{Dir: o.UndoDir, Home: home})
	if err != nil {
		t.Fatal(err)
	}
	if !*swapped {
		t.Fatal("undo never opened ~/.ssh")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("undo wrote outside the home through the swapped folder: %v", ents)
	}
	if len(rep.Problems) == 0 {
		t.Errorf("the undo refused is not reported: %+v", rep)
	}
}

// swapOnOpen makes the first open of folder dir (see beforeOpenDir) find
// it moved aside and replaced by a symbolic link to link, the worst
// moment for a race; *swapped says whether it happened. The hook is
// taken off when the test ends.
func swapOnOpen(t *testing.T, dir, link string) (swapped *bool) {
	swapped = new(bool)
	beforeOpenDir = func(d string) {
		if d != dir || *swapped {
			return
		}
		*swapped = true
		if err := os.Rename(d, d+".moved"); err != nil {
			t.Fatal(err)
		}
		symlink(t, link, d)
	}
	t.Cleanup(func() { beforeOpenDir = func(string) {} })
	return swapped
}
