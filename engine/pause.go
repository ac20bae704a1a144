package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// A restore pauses the backups of its device until it ends (DESIGN.md,
// "Rules users rely on"): both sides name the same lock folder (the local
// cache folder). A restore holds a shared lock on restore.lock there for
// its whole run, so restores do not wait for each other; a backup that is
// processing tries an exclusive lock every pauseCheckEvery, which fails
// while any restore holds its share, and its readers wait between files
// (and between a large file's slices) until it succeeds.
const (
	pauseLockName   = "restore.lock"
	pauseCheckEvery = 250 * time.Millisecond
)

// holdRestorePause takes a restore's share of the lock in dir ("" holds
// nothing); release gives it back.
func holdRestorePause(dir string) (release func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	f, err := openPauseLock(dir)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f, false, true); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil // closing the file drops the lock
}

func openPauseLock(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock folder %s: %w", dir, err)
	}
	p := filepath.Join(dir, pauseLockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	return f, nil
}

// pauseWatch is a backup's view of the restores of its device.
type pauseWatch struct {
	paused atomic.Bool
	mu     sync.Mutex
	resume chan struct{} // closed when the pause ends; set while paused
}

// watchRestores starts watching the lock in dir until ctx ends; onChange
// is called as a pause begins and ends. A nil watch (dir "", or a lock
// that cannot be opened: pausing is a courtesy, not a reason to fail)
// never pauses.
func watchRestores(ctx context.Context, dir string, onChange func(paused bool)) *pauseWatch {
	if dir == "" {
		return nil
	}
	f, err := openPauseLock(dir)
	if err != nil {
		return nil
	}
	w := &pauseWatch{}
	// The first look is made now: files are not read while a restore that
	// was running before the backup began still runs.
	w.set(restoreRunning(f), onChange)
	go func() {
		defer f.Close()
		t := time.NewTicker(pauseCheckEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				w.set(false, nil)
				return
			case <-t.C:
			}
			w.set(restoreRunning(f), onChange)
		}
	}()
	return w
}

// restoreRunning reports whether a restore holds its share of f's lock.
// The exclusive lock is tried twice: another backup's try holds it for a
// moment too.
func restoreRunning(f *os.File) bool {
	for try := 0; try < 2; try++ {
		if lockFile(f, true, false) == nil {
			unlockFile(f)
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func (w *pauseWatch) set(paused bool, onChange func(bool)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if paused == w.paused.Load() {
		return
	}
	if paused {
		w.resume = make(chan struct{})
	} else {
		close(w.resume)
	}
	w.paused.Store(paused)
	if onChange != nil {
		onChange(paused)
	}
}

// wait returns when no restore runs, or ctx ends.
func (w *pauseWatch) wait(ctx context.Context) {
	if w == nil || !w.paused.Load() {
		return
	}
	w.mu.Lock()
	resume := w.resume
	w.mu.Unlock()
	if resume == nil {
		return
	}
	select {
	case <-resume:
	case <-ctx.Done():
	}
}
