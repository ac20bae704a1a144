package engine

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackupPausesWhileRestoreRuns: a backup that names the lock folder of
// a running restore waits before reading its files, says so in its
// progress, and finishes once the restore ends. Two restores hold the lock
// at once.
func TestBackupPausesWhileRestoreRuns(t *testing.T) {
	lockDir := t.TempDir()
	release, err := holdRestorePause(lockDir)
	if err != nil {
		t.Fatal(err)
	}
	release2, err := holdRestorePause(lockDir) // a second restore does not wait
	if err != nil {
		t.Fatal(err)
	}
	release2()

	r := newRepo(t)
	src := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var paused atomic.Bool
	done := make(chan error, 1)
	go func() {
		s, err := Backup(context.Background(), r, BackupOptions{Device: "dev", Paths: []string{src}, LockDir: lockDir,
			ProgressEvery: 10 * time.Millisecond,
			Progress: func(p Progress) {
				if p.Stage == StagePaused {
					paused.Store(true)
				}
			}})
		if err == nil && s.Summary.FilesNew != 3 {
			t.Errorf("backup after the pause: %+v", s.Summary)
		}
		done <- err
	}()
	for deadline := time.Now().Add(20 * time.Second); !paused.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the backup never reported a pause while a restore held the lock")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the backup ended while a restore ran: %v", err)
	default:
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the backup did not go on after the restore ended")
	}
}

// TestBackupWithoutRestoreDoesNotPause: with the lock folder named and no
// restore running, nothing waits.
func TestBackupWithoutRestoreDoesNotPause(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Backup(context.Background(), r, BackupOptions{Device: "dev", Paths: []string{src}, LockDir: t.TempDir(),
		Progress: func(p Progress) {
			if p.Stage == StagePaused {
				t.Error("paused with no restore running")
			}
		}, ProgressEvery: time.Millisecond})
	if err != nil || s.Summary.FilesNew != 1 {
		t.Fatalf("%+v %v", s, err)
	}
}
