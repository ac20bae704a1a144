package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cabinetbackup/cabinet/snapshot"
)

// An unchanged file takes its extended attributes from the register; a
// changed attribute (which changes the ctime) is read again.
func TestXattrsSurviveUnchangedBackups(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	src := t.TempDir()
	for name, data := range map[string]string{"x": "content", "e": "", "plain": "no attributes"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Lsetxattr(filepath.Join(src, "x"), "user.a", []byte("1"), 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			t.Skip("no user extended attributes on this file system")
		}
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(filepath.Join(src, "e"), "user.b", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	opts := BackupOptions{Device: "dev", Paths: []string{src}, RegisterDir: t.TempDir(), Now: time.Now}
	attrs := func(s *snapshot.Session, name string) map[string]string {
		t.Helper()
		n, err := snapshot.FindPath(ctx, r, s.Tree, filepath.ToSlash(filepath.Join(src, name)))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, x := range n.Xattrs {
			m[x.Name] = string(x.Value)
		}
		return m
	}
	want := func(s *snapshot.Session, a string) {
		t.Helper()
		if got := attrs(s, "x")["user.a"]; got != a {
			t.Errorf("x user.a = %q, want %q", got, a)
		}
		if got := attrs(s, "e")["user.b"]; got != "2" {
			t.Errorf("empty file e user.b = %q, want 2", got)
		}
		if got := attrs(s, "plain"); len(got) != 0 {
			t.Errorf("plain has attributes %v", got)
		}
	}
	s1, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	want(s1, "1")
	s2, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Summary.FilesUnchanged != 3 {
		t.Fatalf("second backup: %+v", s2.Summary)
	}
	want(s2, "1")
	if err := unix.Lsetxattr(filepath.Join(src, "x"), "user.a", []byte("3"), 0); err != nil {
		t.Fatal(err)
	}
	s3, err := Backup(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	want(s3, "3")
}
