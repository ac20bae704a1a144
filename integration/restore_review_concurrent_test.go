//go:build linux

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Two restores with --include into one new target at once (a user who
// starts the same restore twice, or two scripts): both finish, neither
// taking a folder the other made on the way for a failure, and the target
// holds what was selected, hard links linked.
func TestRestoreReviewConcurrentIncludeRestores(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for i := range 400 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("docs/d%d/f%03d.txt", i%4, i)), []byte(fmt.Sprintf("small %d\n", i)), 0o644)
	}
	coreWrite(t, filepath.Join(src, "links/a"), []byte("linked\n"), 0o644)
	for _, n := range []string{"links/b", "links/sub/c"} {
		os.MkdirAll(filepath.Dir(filepath.Join(src, n)), 0o755)
		if err := os.Link(filepath.Join(src, "links/a"), filepath.Join(src, n)); err != nil {
			t.Fatal(err)
		}
	}
	e.mustRun("backup", src)
	args := []string{"restore", "--include", "docs/d1", "--include", "links", "--target"}
	for round := range 6 {
		target := t.TempDir()
		var cmds [2]*exec.Cmd
		var outs [2]bytes.Buffer
		for i := range cmds {
			cmds[i] = e.command(append(args, target, "latest")...)
			cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("round %d: one of two restores at once: %v\n%s", round, err, outs[i].String())
			}
		}
		root := coreRestored(target, src)
		coreDiff(t, filepath.Join(src, "docs/d1"), filepath.Join(root, "docs/d1"))
		coreDiff(t, filepath.Join(src, "links"), filepath.Join(root, "links"))
		if n := coreStat(t, filepath.Join(root, "links/a")).Nlink; n != 3 {
			t.Fatalf("round %d: links/a has %d links, want 3", round, n)
		}
		if _, err := os.Lstat(filepath.Join(root, "docs/d0")); err == nil {
			t.Fatalf("round %d: docs/d0 restored, not selected", round)
		}
	}
}
