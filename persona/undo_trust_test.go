package persona

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plantPersona writes a persona folder whose linux/tools entry (rule
// ruleDir) holds one file at rel (relative to the home) with content.
func plantPersona(t *testing.T, from, ruleDir, rel, content string) {
	t.Helper()
	stored := "files/linux/tools/home/" + rel
	writeFile(t, filepath.Join(from, stored), content, 0o600)
	m := &Manifest{Format: 1, Created: testNow, Device: "old", User: "ann", Home: "/home/ann",
		OS: OSInfo{Family: Linux, Name: "Debian GNU/Linux 13 (trixie)", ID: "debian", Version: "13", Arch: "amd64"},
		Entries: []EntryRecord{{
			Entry:  Entry{ID: "linux/tools", OS: Linux, Name: "Tools", Category: "shell", Files: []FileRule{{Path: ruleDir}}},
			Status: StatusCaptured,
			Files:  []FileRecord{{Path: rel, Mode: 0o600, Size: int64(len(content)), SHA256: fileSum(filepath.Join(from, stored)), Stored: stored}},
		}}}
	data, err := EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(from, ManifestName), string(data), 0o600)
}

// TestApplyRefusesPathsInUndoFolder: a persona cannot write into the
// folder of undo sets (this apply's or the default one), so it cannot
// plant a journal for the next 'apply --undo'.
func TestApplyRefusesPathsInUndoFolder(t *testing.T) {
	tests := []struct {
		name    string
		ruleDir string
		rel     string
		undoDir func(home string) string // "" : the default
	}{
		{name: "default undo folder", ruleDir: ".local/share/cabinet",
			rel: ".local/share/cabinet/persona-undo/29991231T000000Z/journal.jsonl"},
		{name: "default undo folder while --undo-dir is elsewhere", ruleDir: ".local/share",
			rel:     ".local/share/cabinet/persona-undo/29991231T000000Z/journal.jsonl",
			undoDir: func(home string) string { return filepath.Join(filepath.Dir(home), "undo") }},
		{name: "--undo-dir inside the home", ruleDir: "my-undo",
			rel:     "my-undo/29991231T000000Z/journal.jsonl",
			undoDir: func(home string) string { return filepath.Join(home, "my-undo") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			from := filepath.Join(base, "persona")
			home := filepath.Join(base, "home", "bob")
			mkdir(t, home, 0o755)
			victim := filepath.Join(base, "etc", "important.conf")
			writeFile(t, victim, "keep me", 0o644)
			journal := `{"format":1,"created":"2999-12-31T00:00:00Z","home":"` + home + `"}` + "\n" +
				`{"op":"file","path":"` + victim + `"}` + "\n"
			plantPersona(t, from, tt.ruleDir, tt.rel, journal)
			o := applyTo(from, home, nil)
			o.UndoDir = DefaultUndoDir(Linux, home)
			if tt.undoDir != nil {
				o.UndoDir = tt.undoDir(home)
			}
			rep, err := Apply(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			planted := filepath.Join(home, filepath.FromSlash(tt.rel))
			if _, err := os.Lstat(planted); err == nil {
				t.Errorf("apply wrote %s into the undo folder", planted)
			}
			found := false
			for _, e := range rep.Entries {
				for _, s := range e.Skipped {
					found = found || s.Path == planted && strings.Contains(s.Reason, "undo")
				}
			}
			if !found || !rep.Incomplete() {
				t.Errorf("report does not list %s as skipped: %+v", planted, rep.Entries)
			}
			if _, err := Undo(context.Background(), UndoOptions{Dir: o.UndoDir, Home: home}); err != nil && !errors.Is(err, ErrNoUndo) {
				t.Logf("undo: %v", err)
			}
			if got := readFile(t, victim); got != "keep me" {
				t.Errorf("victim outside the home = %q", got)
			}
		})
	}
}

// TestUndoRefusesUntrustedRecords: an undo set is a file in the user's
// home; a record that would touch something outside the home (and not a
// system file of this device's catalog), reach a saved copy outside the
// set, or go through a link out of the home is refused and reported.
func TestUndoRefusesUntrustedRecords(t *testing.T) {
	type env struct{ base, home, victim, victimDir string }
	tests := []struct {
		name string
		// header home ("" : the home) and records, built from the env
		headerHome func(e env) string
		records    func(e env) []undoRecord
		setup      func(t *testing.T, e env, set string)
		noHome     bool // UndoOptions.Home is not given
		wantErr    bool // Undo returns ErrUntrustedUndo
		wantRun    bool // a tool may run
	}{
		{name: "remove a file outside the home",
			records: func(e env) []undoRecord { return []undoRecord{{Op: "file", Path: e.victim}} }},
		{name: "overwrite a file outside the home",
			records: func(e env) []undoRecord {
				return []undoRecord{{Op: "file", Path: e.victim, Existed: true, Saved: "saved/1", Mode: 0o644}}
			},
			setup: func(t *testing.T, e env, set string) { writeFile(t, filepath.Join(set, "saved", "1"), "evil", 0o600) }},
		{name: "chmod outside the home",
			records: func(e env) []undoRecord { return []undoRecord{{Op: "chmod", Path: e.victim, Mode: 0o777}} }},
		{name: "remove an empty folder outside the home",
			records: func(e env) []undoRecord { return []undoRecord{{Op: "mkdir", Path: e.victimDir}} }},
		{name: "relative path",
			records: func(e env) []undoRecord { return []undoRecord{{Op: "file", Path: "../../etc/important.conf"}} }},
		{name: "unclean path through the home",
			records: func(e env) []undoRecord {
				return []undoRecord{{Op: "file", Path: e.home + "/../../etc/important.conf"}}
			}},
		{name: "saved copy outside the undo set",
			records: func(e env) []undoRecord {
				return []undoRecord{{Op: "file", Path: filepath.Join(e.home, ".bashrc"), Existed: true, Saved: "../../../../etc/important.conf", Mode: 0o644}}
			}},
		{name: "file in the home through a link out of it",
			records: func(e env) []undoRecord {
				return []undoRecord{{Op: "file", Path: filepath.Join(e.home, ".ssh", "important.conf")}}
			},
			setup: func(t *testing.T, e env, set string) {
				if err := os.Symlink(filepath.Dir(e.victim), filepath.Join(e.home, ".ssh")); err != nil {
					t.Skip("no symbolic links:", err)
				}
			}},
		{name: "dconf of another home",
			records: func(e env) []undoRecord { return []undoRecord{{Op: "dconf", Path: e.base, Key: "/"}} }},
		{name: "registry key outside HKCU",
			records: func(e env) []undoRecord { return []undoRecord{{Op: "reg", Key: `HKLM\SOFTWARE\Microsoft`}} }},
		{name: "system defaults domain the catalog does not name",
			records: func(e env) []undoRecord {
				return []undoRecord{{Op: "defaults", Key: "/Library/Preferences/com.apple.loginwindow"}}
			}},
		{name: "undo set made for another home",
			headerHome: func(e env) string { return e.base },
			records:    func(e env) []undoRecord { return []undoRecord{{Op: "file", Path: e.victim}} },
			wantErr:    true},
		{name: "undo set naming the root as its home",
			headerHome: func(e env) string { return string(filepath.Separator) },
			noHome:     true,
			records:    func(e env) []undoRecord { return []undoRecord{{Op: "file", Path: e.victim}} },
			wantErr:    true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			e := env{base: base, home: filepath.Join(base, "home", "bob"),
				victim: filepath.Join(base, "etc", "important.conf"), victimDir: filepath.Join(base, "empty")}
			mkdir(t, e.home, 0o755)
			mkdir(t, e.victimDir, 0o755)
			writeFile(t, e.victim, "keep me", 0o644)
			dir := filepath.Join(e.home, ".undo")
			set := filepath.Join(dir, "29991231T000000Z")
			hh := e.home
			if tt.headerHome != nil {
				hh = tt.headerHome(e)
			}
			b, _ := json.Marshal(undoHeader{Format: 1, Created: testNow, Home: hh})
			lines := string(b) + "\n"
			for _, r := range tt.records(e) {
				b, _ := json.Marshal(r)
				lines += string(b) + "\n"
			}
			writeFile(t, filepath.Join(set, journalName), lines, 0o600)
			if tt.setup != nil {
				tt.setup(t, e, set)
			}
			run := &fakeRunner{fn: func(c Command) ([]byte, error) { return nil, nil }}
			opts := UndoOptions{Dir: dir, Home: e.home, Runner: run}
			if tt.noHome {
				opts.Home = ""
			}
			rep, err := Undo(context.Background(), opts)
			switch {
			case tt.wantErr && !errors.Is(err, ErrUntrustedUndo):
				t.Errorf("Undo = %v, want ErrUntrustedUndo", err)
			case !tt.wantErr && err != nil:
				t.Fatalf("Undo: %v", err)
			case !tt.wantErr && len(rep.Problems) == 0:
				t.Errorf("no problem reported: %+v", rep)
			}
			if _, err := os.Stat(set); err != nil {
				t.Errorf("the undo set was deleted although a record was refused: %v", err)
			}
			st, err := os.Stat(e.victim)
			if err != nil {
				t.Fatalf("victim outside the home: %v", err)
			}
			if got := readFile(t, e.victim); got != "keep me" || st.Mode().Perm() != 0o644 {
				t.Errorf("victim outside the home = %q, mode %04o", got, st.Mode().Perm())
			}
			if _, err := os.Stat(e.victimDir); err != nil {
				t.Errorf("folder outside the home removed: %v", err)
			}
			if len(run.calls) > 0 && !tt.wantRun {
				t.Errorf("tools ran: %v", run.calls)
			}
		})
	}
}

// TestUndoKeepsTrustedRecords: records inside the home, and system files
// of this device's catalog, are still undone.
func TestUndoKeepsTrustedRecords(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home", "bob")
	mkdir(t, home, 0o755)
	created := filepath.Join(home, ".bashrc")
	writeFile(t, created, "new", 0o644)
	chk := undoChecker{home: home, realHome: realDir(home), cat: mustBuiltin(t)}
	for _, r := range []undoRecord{
		{Op: "file", Path: created},
		{Op: "file", Path: "/etc/fstab", Existed: true, Saved: "saved/3"},
		{Op: "file", Path: "/etc/NetworkManager/system-connections/home.nmconnection"},
		{Op: "mkdir", Path: "/etc/NetworkManager/system-connections"},
		{Op: "dconf", Path: home, Key: "/", Saved: "saved/1"},
		{Op: "reg", Key: `HKCU\Software\Foo`, Existed: true, Saved: "saved/2"},
		{Op: "defaults", Key: "com.apple.dock"},
		{Op: "printer", Key: "office"},
	} {
		if err := chk.check(r); err != nil {
			t.Errorf("%+v refused: %v", r, err)
		}
	}
	dir := filepath.Join(base, "undo")
	b, _ := json.Marshal(undoHeader{Format: 1, Created: testNow, Home: home})
	r, _ := json.Marshal(undoRecord{Op: "file", Path: created})
	writeFile(t, filepath.Join(dir, "20260101T000000Z", journalName), string(b)+"\n"+string(r)+"\n", 0o600)
	rep, err := Undo(context.Background(), UndoOptions{Dir: dir, Home: home})
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("Undo = %+v, %v", rep, err)
	}
	if _, err := os.Lstat(created); err == nil {
		t.Errorf("%s not removed", created)
	}
}

func mustBuiltin(t *testing.T) *Catalog {
	t.Helper()
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestUndoKeepsFolderMadeByAnother: a mkdir record followed by a mkdir
// record with Existed (apply lost the race to make the folder) leaves the
// folder in place; a folder apply did make is still removed.
func TestUndoKeepsFolderMadeByAnother(t *testing.T) {
	base := t.TempDir()
	home := filepath.Join(base, "home", "bob")
	mine := filepath.Join(home, ".config", "mine")
	theirs := filepath.Join(home, ".config", "theirs")
	mkdir(t, mine, 0o755)
	mkdir(t, theirs, 0o755)
	dir := filepath.Join(base, "undo")
	b, _ := json.Marshal(undoHeader{Format: 1, Created: testNow, Home: home})
	lines := string(b) + "\n"
	for _, r := range []undoRecord{
		{Op: "mkdir", Path: mine},
		{Op: "mkdir", Path: theirs},
		{Op: "mkdir", Path: theirs, Existed: true},
	} {
		b, _ := json.Marshal(r)
		lines += string(b) + "\n"
	}
	writeFile(t, filepath.Join(dir, "20260101T000000Z", journalName), lines, 0o600)
	rep, err := Undo(context.Background(), UndoOptions{Dir: dir, Home: home})
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("Undo = %+v, %v", rep, err)
	}
	if _, err := os.Stat(theirs); err != nil {
		t.Errorf("folder made by another removed: %v", err)
	}
	if _, err := os.Stat(mine); err == nil {
		t.Errorf("%s not removed", mine)
	}
}
