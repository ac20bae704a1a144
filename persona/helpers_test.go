package persona

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 21, 10, 30, 5, 0, time.UTC)

func fixedClock() time.Time { return testNow }

func boolPtr(b bool) *bool { return &b }

func noProcesses(context.Context) ([]string, error) { return nil, nil }

// writeFile creates a file (and its folders) with content and mode.
func writeFile(t *testing.T, p, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, p string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// treeState is a folder's content: path → "mode content" (links: "-> target").
type treeState map[string]string

func snapshotTree(t *testing.T, root string) treeState {
	t.Helper()
	st := treeState{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			st[rel] = "link -> " + l
		case info.IsDir():
			st[rel] = fmt.Sprintf("dir %04o", info.Mode().Perm())
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			st[rel] = fmt.Sprintf("file %04o %x", info.Mode().Perm(), b)
			if xs, _ := readXattrs(p); len(xs) > 0 {
				var names []string
				for k := range xs {
					names = append(names, k)
				}
				sort.Strings(names)
				for _, k := range names {
					st[rel] += fmt.Sprintf(" %s=%q", k, xs[k])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func diffTrees(a, b treeState) string {
	var keys []string
	seen := map[string]bool{}
	for k := range a {
		keys, seen[k] = append(keys, k), true
	}
	for k := range b {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out strings.Builder
	for _, k := range keys {
		if a[k] != b[k] {
			av, bv := a[k], b[k]
			if len(av) > 60 {
				av = av[:60] + "..."
			}
			if len(bv) > 60 {
				bv = bv[:60] + "..."
			}
			fmt.Fprintf(&out, "  %s: %q vs %q\n", k, av, bv)
		}
	}
	return out.String()
}

// copyTree copies a folder (files and modes), for persona folder variants.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readOnlyTree makes a folder read-only, like a cabinet mount.
func readOnlyTree(t *testing.T, root string) {
	t.Helper()
	var dirs []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if d.IsDir() {
			dirs = append(dirs, p)
		} else {
			os.Chmod(p, 0o444)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Chmod(dirs[i], 0o555)
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			os.Chmod(d, 0o755)
		}
	})
}

func linuxSystem(user, home string) *System {
	return &System{Device: "laptop", User: user, Home: home, Language: "en-US",
		OS: OSInfo{Family: Linux, Name: "Debian GNU/Linux 13 (trixie)", ID: "debian", Version: "13", Arch: "amd64"}}
}

// fakeRunner answers commands from a function and records them.
type fakeRunner struct {
	calls []Command
	fn    func(c Command) ([]byte, error)
}

func (f *fakeRunner) Run(ctx context.Context, c Command) ([]byte, error) {
	f.calls = append(f.calls, c)
	return f.fn(c)
}

func (f *fakeRunner) called(name string) []Command {
	var out []Command
	for _, c := range f.calls {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func containsAll(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s: %q not found in:\n%s", what, sub, s)
		}
	}
}

func bytesHas(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }
