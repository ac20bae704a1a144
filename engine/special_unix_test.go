//go:build !windows

package engine

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// TestRestoreSpecialNodes: a FIFO comes back as a FIFO with its mode; a
// socket is kept in the session but not made on restore, and it is no
// warning (it once gave three: its owner, mode and times could not be set
// on a node that was never made).
func TestRestoreSpecialNodes(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "file"), []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(src, "pipe"), 0o640); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(src, "sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()

	s, err := Backup(ctx, r, BackupOptions{Device: "dev", Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := snapshot.FindPath(ctx, r, s.Tree, filepath.ToSlash(filepath.Join(src, "sock")))
	if err != nil || n.Type != snapshot.TypeSocket {
		t.Fatalf("the session holds the socket as %v, %v", n, err)
	}

	target := t.TempDir()
	stats, err := Restore(ctx, r, s, RestoreOptions{Target: target})
	if err != nil || stats.Warnings != 0 || stats.Files != 1 {
		t.Fatalf("restore: %+v, %v", stats, err)
	}
	got := filepath.Join(target, src)
	if fi, err := os.Lstat(filepath.Join(got, "pipe")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o640 {
		t.Errorf("FIFO restored as %v, %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(got, "sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket made on restore: %v", err)
	}
}
