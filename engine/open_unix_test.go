//go:build !windows

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// TestOpenSource opens what a backup reads: a regular file as before, and
// a FIFO or folder found in its place (replaced since the scan) as an
// error at once, not a read that waits for a writer for ever.
func TestOpenSource(t *testing.T) {
	dir, regular, fifo := fileAndFifo(t)
	f, err := openSource(regular, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 16)
	n, _ := f.Read(data)
	if flags, _ := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); string(data[:n]) != "cabinet" || flags&unix.O_NONBLOCK != 0 {
		t.Errorf("regular file: read %q, flags %#x; want its content, blocking", data[:n], flags)
	}
	f.Close()
	for _, p := range []string{fifo, dir} {
		done := make(chan error)
		go func() {
			f, err := openSource(p, 0, "")
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, errNotRegular) {
				t.Errorf("openSource(%s): %v, want %v", filepath.Base(p), err, errNotRegular)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("openSource(%s) blocks", filepath.Base(p))
		}
	}
}

// TestBackupFileReplacedByFifo replaces a file with a FIFO between the
// scan and the read: the session ends, completed with a warning naming
// the file, instead of waiting for a writer for ever.
func TestBackupFileReplacedByFifo(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	for _, name := range []string{"a.txt", "b.txt"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	replaced := filepath.Join(src, "b.txt")
	var warned []string
	done := make(chan error)
	go func() {
		s, err := Backup(context.Background(), r, BackupOptions{Device: "dev", Paths: []string{src}, Now: time.Now,
			Processing: func() {
				if err := os.Remove(replaced); err != nil {
					t.Error(err)
				}
				if err := unix.Mkfifo(replaced, 0o644); err != nil {
					t.Error(err)
				}
			},
			Warn: func(path string, err error) { warned = append(warned, path+": "+err.Error()) }})
		if err == nil && s.Status != snapshot.StatusCompletedWithWarnings {
			err = fmt.Errorf("status %q", s.Status)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the backup blocks on the FIFO")
	}
	if len(warned) != 1 || !strings.Contains(warned[0], replaced) {
		t.Errorf("warnings %q, want one naming %s", warned, replaced)
	}
}

// fileAndFifo makes a folder holding a regular file ("cabinet") and a FIFO.
func fileAndFifo(t *testing.T) (dir, regular, fifo string) {
	t.Helper()
	dir = t.TempDir()
	regular = filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("cabinet"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo = filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, regular, fifo
}

// TestOpenFileRefusesSymlinks: what restore opens for writing is never
// reached through a symlink, even one put there after the restore looked.
func TestOpenFileRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "restored")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []int{os.O_WRONLY, os.O_CREATE | os.O_WRONLY | os.O_TRUNC} {
		fh, err := openFile(link, flag, 0o600)
		if err == nil {
			fh.Close()
		}
		if !errors.Is(err, unix.ELOOP) {
			t.Errorf("openFile(symlink, %#x): %v, want ELOOP", flag, err)
		}
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep" {
		t.Errorf("written through a symlink: %q", data)
	}
}
