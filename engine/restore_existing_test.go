package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// sessionOf backs up src and returns a session whose root holds src's
// folder under each of names, or a folder whose tree is missing from the
// repository where a name is "missing" (a restore fails in plan there).
func sessionOf(t *testing.T, r *repo.Repository, src string, names ...string) *snapshot.Session {
	t.Helper()
	ctx := context.Background()
	s, err := Backup(ctx, r, BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: t.TempDir(), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	n, err := snapshot.FindPath(ctx, r, s.Tree, src)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []snapshot.Node
	for _, name := range names {
		d := *n
		d.Name = name
		if name == "missing" {
			d.Subtree = blob.ID{1, 2, 3}
		}
		nodes = append(nodes, d)
	}
	if _, err := r.Write(ctx, func(ctx context.Context, w *repo.Writer) error {
		s.Tree, err = snapshot.SaveTree(ctx, w, &snapshot.Tree{Nodes: nodes})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// A restore that fails while planning (a tree it cannot load) leaves the
// files already in the target as they were, small and large: nothing of
// theirs was written, so nothing of theirs may be truncated. Files in
// folders the restore makes are created as plan finds them (createEarly,
// feedLarge); files already there only once plan has succeeded.
func TestRestoreFailedPlanLeavesExistingFiles(t *testing.T) {
	for _, overwrite := range []string{OverwriteAlways, OverwriteIfChanged} {
		t.Run(overwrite, func(t *testing.T) {
			ctx := context.Background()
			r := newRepo(t)
			src := t.TempDir()
			const small = 2000
			for i := range small {
				if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%04d", i)), fmt.Appendf(nil, "session %d", i), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			large := randomBytes(rand.New(rand.NewPCG(3, 3)), 2*directBytes)
			if err := os.WriteFile(filepath.Join(src, "large"), large, 0o644); err != nil {
				t.Fatal(err)
			}
			s := sessionOf(t, r, src, "a", "missing")

			target := t.TempDir()
			if err := os.Mkdir(filepath.Join(target, "a"), 0o755); err != nil {
				t.Fatal(err)
			}
			local := []byte("the local version, not the session's")
			names := []string{"large"}
			for i := range small {
				names = append(names, fmt.Sprintf("f%04d", i))
			}
			for _, name := range names {
				if err := os.WriteFile(filepath.Join(target, "a", name), local, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := Restore(ctx, r, s, RestoreOptions{Target: target, Overwrite: overwrite}); err == nil {
				t.Fatal("a restore with a missing tree succeeded")
			}
			changed := 0
			for _, name := range names {
				got, err := os.ReadFile(filepath.Join(target, "a", name))
				if err != nil || !bytes.Equal(got, local) {
					if changed++; changed == 1 {
						t.Errorf("%s: %d bytes after the failed restore (%v), want the local %d", name, len(got), err, len(local))
					}
				}
			}
			if changed > 0 {
				t.Errorf("%d of %d existing files changed by a restore that failed in plan", changed, len(names))
			}
		})
	}
}

// A file the restore cannot create (a folder is in its place) is one
// warning, and --verify does not read it again.
func TestRestoreSkippedFileNotVerified(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "small"), []byte("small file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "large"), randomBytes(rand.New(rand.NewPCG(4, 4)), directBytes+44<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "other"), []byte("restored"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := sessionOf(t, r, src, "a")
	target := t.TempDir()
	for _, name := range []string{"small", "large"} {
		if err := os.MkdirAll(filepath.Join(target, "a", name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var warned []string
	st, err := Restore(ctx, r, s, RestoreOptions{Target: target, Verify: true, Warn: func(path string, err error) {
		mu.Lock()
		defer mu.Unlock()
		warned = append(warned, fmt.Sprintf("%s: %v", filepath.Base(path), err))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(warned) != 2 || st.VerifyFailed != 0 || st.Verified != 1 || st.Files != 1 {
		t.Errorf("warnings %q, verified %d, verify failed %d, files %d; want one warning each for small and large, 1 verified, 0 failed, 1 file",
			warned, st.Verified, st.VerifyFailed, st.Files)
	}
	if got, _ := os.ReadFile(filepath.Join(target, "a", "other")); string(got) != "restored" {
		t.Errorf("other: %q", got)
	}
}

// Restoring over a file that has other hard links replaces it: the files
// it was linked to keep their content, small or large.
func TestRestoreOverHardLinkedFile(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	large := randomBytes(rand.New(rand.NewPCG(5, 5)), directBytes+4096)
	if err := os.WriteFile(filepath.Join(src, "small"), []byte("from the session"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "large"), large, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sessionOf(t, r, src, "a")
	target := t.TempDir()
	if err := os.Mkdir(filepath.Join(target, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	local := []byte("a local file linked from elsewhere")
	for _, name := range []string{"small", "large"} {
		other := filepath.Join(outside, name)
		if err := os.WriteFile(other, local, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(other, filepath.Join(target, "a", name)); err != nil {
			t.Skipf("hard links: %v", err)
		}
	}
	if _, err := Restore(ctx, r, s, RestoreOptions{Target: target, Overwrite: OverwriteAlways}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"small": []byte("from the session"), "large": large} {
		if got, _ := os.ReadFile(filepath.Join(target, "a", name)); !bytes.Equal(got, want) {
			t.Errorf("restored %s: %d bytes, want %d", name, len(got), len(want))
		}
		if got, _ := os.ReadFile(filepath.Join(outside, name)); !bytes.Equal(got, local) {
			t.Errorf("%s outside the target changed by the restore: %d bytes, want the local %d", name, len(got), len(local))
		}
	}
}

// A file changed between the scan and its read is stored as read (its
// size and slices agree) with a warning, so the session is "completed
// with warnings" (exit code 3), as borg says "file changed while we
// backed it up".
func TestBackupFileChangedWhileRead(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	small, large := filepath.Join(src, "small"), filepath.Join(src, "large")
	if err := os.WriteFile(small, []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(large, randomBytes(rand.New(rand.NewPCG(6, 6)), 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "same"), []byte("unchanged"), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var warned []string
	s, err := Backup(ctx, r, BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: t.TempDir(), Now: time.Now,
		Warn: func(path string, err error) {
			mu.Lock()
			defer mu.Unlock()
			warned = append(warned, filepath.Base(path))
		},
		Processing: func() {
			os.WriteFile(small, []byte("after, and longer"), 0o644)
			os.Truncate(large, 1<<20+12345)
		}})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(warned)
	if !slices.Equal(warned, []string{"large", "small"}) || s.Status != snapshot.StatusCompletedWithWarnings {
		t.Errorf("warnings for %q, status %v; want large and small, completed with warnings", warned, s.Status)
	}
	target := t.TempDir()
	if _, err := Restore(ctx, r, s, RestoreOptions{Target: target, Verify: true}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"small", "large", "same"} {
		want, _ := os.ReadFile(filepath.Join(src, name))
		if got, _ := os.ReadFile(filepath.Join(target, src, name)); !bytes.Equal(got, want) {
			t.Errorf("%s: restored %d bytes, want what was read: %d", name, len(got), len(want))
		}
	}
}
