//go:build linux

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// coreSummary is the "summary" object of a session as --json prints it.
type coreSummary = snapshot.Summary

// coreSession is a session as backup --json and sessions --json print it.
type coreSession struct {
	ID       string      `json:"id"`
	ShortID  string      `json:"short_id"`
	Device   string      `json:"device"`
	User     string      `json:"user"`
	Hostname string      `json:"hostname"`
	OS       string      `json:"os"`
	Arch     string      `json:"arch"`
	Source   string      `json:"source"`
	Time     string      `json:"time"`
	TimeName string      `json:"time_name"`
	Paths    []string    `json:"paths"`
	Tags     []string    `json:"tags"`
	Parent   string      `json:"parent"`
	Status   string      `json:"status"`
	Tree     string      `json:"tree"`
	Summary  coreSummary `json:"summary"`
}

// coreBackup runs backup --json with args, wants exit code want, and
// returns the printed session.
func coreBackup(t testing.TB, e *env, want int, args ...string) (coreSession, result) {
	t.Helper()
	r := e.expectCode(want, append([]string{"backup", "--json"}, args...)...)
	var s coreSession
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("backup --json output: %v\n%s", err, r)
	}
	return s, r
}

// coreSessions runs sessions --json.
func coreSessions(t testing.TB, e *env, args ...string) []coreSession {
	t.Helper()
	r := e.mustRun(append([]string{"sessions", "--json"}, args...)...)
	var ss []coreSession
	if err := json.Unmarshal([]byte(r.stdout), &ss); err != nil {
		t.Fatalf("sessions --json output: %v\n%s", err, r)
	}
	return ss
}

// coreRandom returns n bytes from a seeded generator.
func coreRandom(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// coreWrite writes data to path, creating its folder.
func coreWrite(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
}

// coreRestored is where restore --target target puts the absolute path p.
func coreRestored(target, p string) string { return filepath.Join(target, p) }

// coreDiff runs the real diff -r --no-dereference and fails on any
// difference. GNU diff always reports FIFOs ("is a fifo while file ... is a
// fifo"); those lines are accepted, the metadata walk checks FIFOs.
func coreDiff(t testing.TB, a, b string) {
	t.Helper()
	cmd := exec.Command("diff", "-r", "--no-dereference", a, b)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	var bad []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, "File ") && strings.HasSuffix(l, " is a fifo") && strings.Contains(l, " is a fifo while file ") {
			continue
		}
		bad = append(bad, l)
	}
	if len(bad) > 0 {
		t.Fatalf("diff -r --no-dereference %s %s: %v\n%s", a, b, err, strings.Join(bad, "\n"))
	}
}

// coreMeta is what the metadata comparison looks at for one path.
type coreMeta struct {
	Mode   fs.FileMode
	UID    uint32
	GID    uint32
	Size   int64 // files and symlinks
	Mtime  int64 // ns
	Nlink  uint64
	Target string
	Xattrs map[string]string
}

func coreStat(t testing.TB, p string) coreMeta {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	m := coreMeta{Mode: fi.Mode(), UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Nano(), Nlink: uint64(st.Nlink)}
	if !fi.IsDir() {
		m.Size = fi.Size()
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		m.Target, _ = os.Readlink(p)
	}
	m.Xattrs = coreXattrs(p)
	return m
}

// coreXattrs lists the user.* extended attributes of p (not following links).
func coreXattrs(p string) map[string]string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n <= 0 {
		return nil
	}
	out := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if !strings.HasPrefix(name, "user.") {
			continue
		}
		v := make([]byte, 64<<10)
		vn, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			continue
		}
		out[name] = string(v[:vn])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// coreWalk returns every path below root (root itself as ""), relative.
func coreWalk(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			rel = ""
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	sort.Strings(out)
	return out
}

// coreCompareTrees fails unless both trees hold the same names with the
// same mode, owner, size, mtime, link count, symlink target and xattrs.
func coreCompareTrees(t testing.TB, want, got string) {
	t.Helper()
	wl, gl := coreWalk(t, want), coreWalk(t, got)
	if strings.Join(wl, "\x00") != strings.Join(gl, "\x00") {
		t.Fatalf("trees differ in names:\nwant %q\ngot  %q", wl, gl)
	}
	for _, rel := range wl {
		w, g := coreStat(t, filepath.Join(want, rel)), coreStat(t, filepath.Join(got, rel))
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(g)
		if !bytes.Equal(wj, gj) {
			t.Errorf("metadata of %q differs:\nwant %s\ngot  %s", rel, wj, gj)
		}
	}
}

// coreInode returns the inode number of p.
func coreInode(t testing.TB, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// coreFileSize returns the size of p.
func coreFileSize(t testing.TB, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// coreOneLine fails unless s has a line containing every one of parts.
func coreOneLine(t testing.TB, s string, parts ...string) string {
	t.Helper()
	for _, l := range strings.Split(s, "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				ok = false
				break
			}
		}
		if ok {
			return l
		}
	}
	t.Fatalf("no line contains all of %q in:\n%s", parts, s)
	return ""
}

func syscallMkfifo(p string) error { return unix.Mkfifo(p, 0o644) }

// coreFor returns a copy of e that reports to t (a subtest), so a failure
// inside a subtest stops that subtest.
func coreFor(t testing.TB, e *env) *env {
	c := *e
	c.t = t
	return &c
}

// openRepo opens the env's repository through the library (to craft or
// damage what the binary reads), closed when the test ends.
func (e *env) openRepo(t testing.TB) *repo.Repository {
	t.Helper()
	pw, err := os.ReadFile(e.pwFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), local.New(e.repo), bytes.TrimSpace(pw), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
