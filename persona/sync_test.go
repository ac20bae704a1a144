package persona

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWritesAreSynced: every file apply and undo put in place is synced
// before it is renamed over its destination, the folder is synced after
// the rename, and a saved undo copy is synced before the journal record
// that names it.
func TestWritesAreSynced(t *testing.T) {
	base := t.TempDir()
	oldHome := filepath.Join(base, "home", "ann")
	home := filepath.Join(base, "home", "bob")
	writeFile(t, filepath.Join(oldHome, ".gitconfig"), "[user]\n\tname = Ann\n", 0o644)
	writeFile(t, filepath.Join(oldHome, ".inputrc"), "set bell-style none\n", 0o644)
	staging := filepath.Join(base, "staging")
	if _, err := Capture(context.Background(), CaptureOptions{Staging: staging, System: linuxSystem("ann", oldHome), Root: boolPtr(false),
		Now: fixedClock, Select: Selector{Only: []string{"bash", "git"}}, Processes: noProcesses}); err != nil {
		t.Fatal(err)
	}
	mkdir(t, home, 0o755)
	gitconfig := filepath.Join(home, ".gitconfig")
	writeFile(t, gitconfig, "[user]\n\tname = Bob\n", 0o644) // overwritten: saved for undo
	inputrc := filepath.Join(home, ".inputrc")               // created
	o := applyTo(staging, home, nil)

	type event struct{ op, path string }
	var events []event
	var problems []string
	oldFile, oldDir := syncFile, syncDir
	t.Cleanup(func() { syncFile, syncDir = oldFile, oldDir })
	syncFile = func(f *os.File) error {
		events = append(events, event{"file", f.Name()})
		if strings.Contains(f.Name(), string(filepath.Separator)+"saved"+string(filepath.Separator)) {
			// The journal must not name this copy yet.
			sets, _ := UndoSets(o.UndoDir)
			for _, s := range sets {
				j, _ := os.ReadFile(filepath.Join(o.UndoDir, s, journalName))
				if strings.Contains(string(j), `"saved":"saved/`+filepath.Base(f.Name())+`"`) {
					problems = append(problems, "journal names "+f.Name()+" before it was synced")
				}
			}
		}
		return f.Sync()
	}
	syncDir = func(dir string) { events = append(events, event{"dir", dir}) }

	// fileSyncedBeforeRename checks that a temporary file beside dst was
	// synced while dst did not yet hold want, and the folder after.
	check := func(phase, dst, want string) {
		t.Helper()
		tmp, dirAfter := -1, -1
		for i, e := range events {
			if e.op == "file" && filepath.Dir(e.path) == filepath.Dir(dst) && strings.HasPrefix(filepath.Base(e.path), ".") &&
				strings.Contains(filepath.Base(e.path), "cabinet") || e.op == "file" && e.path == dst+".cabinet-undo" {
				tmp = i
			}
			if e.op == "dir" && e.path == filepath.Dir(dst) && tmp >= 0 {
				dirAfter = i
			}
		}
		if tmp < 0 {
			t.Errorf("%s: the new content of %s was not synced before the rename: %v", phase, dst, events)
		}
		if dirAfter < 0 {
			t.Errorf("%s: the folder of %s was not synced after the rename: %v", phase, dst, events)
		}
		if got := readFile(t, dst); got != want {
			t.Errorf("%s: %s = %q, want %q", phase, dst, got, want)
		}
	}

	events = events[:0]
	if _, err := Apply(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	check("apply", gitconfig, "[user]\n\tname = Ann\n")
	check("apply", inputrc, "set bell-style none\n")
	saved := false
	for _, e := range events {
		saved = saved || e.op == "file" && strings.Contains(e.path, string(filepath.Separator)+"saved"+string(filepath.Separator))
	}
	if !saved {
		t.Errorf("the saved copy of %s was not synced: %v", gitconfig, events)
	}

	events = events[:0]
	if rep, err := Undo(context.Background(), UndoOptions{Dir: o.UndoDir, Home: home}); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("undo: %+v %v", rep, err)
	}
	check("undo", gitconfig, "[user]\n\tname = Bob\n")
	for _, p := range problems {
		t.Error(p)
	}
}
