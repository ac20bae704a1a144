package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBackupOneFileSystem: with OneFileSystem, a file system mounted below
// the backup path is kept as an empty folder; without it, it is walked.
func TestBackupOneFileSystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	src := t.TempDir()
	for name, content := range map[string]string{"a.txt": "a", "mnt/under-the-mount": "hidden", "sub/b.txt": "b"} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mnt := filepath.Join(src, "mnt")
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	if err := os.WriteFile(filepath.Join(mnt, "on-the-tmpfs"), []byte("other fs"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		one  bool
		want []string
	}{
		{true, []string{"a.txt", "mnt", "sub", "sub/b.txt"}},
		{false, []string{"a.txt", "mnt", "mnt/on-the-tmpfs", "sub", "sub/b.txt"}},
	} {
		r := newRepo(t)
		s, err := Backup(context.Background(), r, BackupOptions{Device: "dev", Paths: []string{src}, OneFileSystem: tc.one})
		if err != nil {
			t.Fatal(err)
		}
		if got := sessionPaths(t, r, s, src); !slices.Equal(got, tc.want) {
			t.Errorf("OneFileSystem %v:\n got  %q\n want %q", tc.one, got, tc.want)
		}
		if s.Summary.Warnings != 0 {
			t.Errorf("OneFileSystem %v: %d warnings", tc.one, s.Summary.Warnings)
		}
	}
	// The mount point itself as the backup path is walked: its own file
	// system is the one the option keeps to.
	r := newRepo(t)
	s, err := Backup(context.Background(), r, BackupOptions{Device: "dev", Paths: []string{mnt}, OneFileSystem: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := sessionPaths(t, r, s, mnt); !slices.Equal(got, []string{"on-the-tmpfs"}) {
		t.Errorf("backing up the mount point itself: %q", got)
	}
}
