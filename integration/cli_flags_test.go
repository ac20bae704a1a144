//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIFlagsBeatEnvironment: a global flag written before the command
// beats the environment, and a flag after the command beats both. The
// copies of the global flags that follow a command read the environment
// too, counted as set, and won: "CABINET_REPOSITORY=B cabinet --repo A
// sessions" listed B, and a backup went to B.
func TestCLIFlagsBeatEnvironment(t *testing.T) {
	a := newEnv(t) // repository A, its password file and cache
	repoB := filepath.Join(a.dir, "repoB")
	pwB := filepath.Join(a.dir, "passwordB")
	cacheB := filepath.Join(a.dir, "cacheB")
	if err := os.WriteFile(pwB, []byte("another password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// b is the same folder with the environment naming B.
	b := &env{t: t, dir: a.dir, repo: repoB, pwFile: pwB, cacheDir: cacheB}
	b.mustRun("init")

	src := filepath.Join(a.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("x"), 0o644)

	// The environment names B; the global flags name A.
	globalA := []string{"--repo", a.repo, "--password-file", a.pwFile, "--cache-dir", a.cacheDir}
	b.mustRun(append(globalA, "backup", "--tag", "toA", src)...)
	// The cache named before the command is used, not the environment's.
	if _, err := os.Stat(cacheB); err == nil {
		t.Fatalf("%s was used though --cache-dir named %s", cacheB, a.cacheDir)
	}
	if ss := coreSessions(t, b); len(ss) != 0 {
		t.Fatalf("backup with --repo A before the command went to B: %+v", ss)
	}
	if ss := coreSessions(t, a); len(ss) != 1 || len(ss[0].Tags) != 1 || ss[0].Tags[0] != "toA" {
		t.Fatalf("sessions of A: %+v", ss)
	}
	r := b.mustRun(append(globalA, "sessions", "--json")...)
	if !strings.Contains(r.stdout, `"toA"`) {
		t.Fatalf("sessions with --repo A before the command did not list A:\n%s", r)
	}

	// The same flags after the command beat those before it.
	b.mustRun("--repo", repoB, "--password-file", pwB, "backup", "--repo", a.repo, "--password-file", a.pwFile,
		"--cache-dir", a.cacheDir, "--tag", "second", src)
	if ss := coreSessions(t, a); len(ss) != 2 {
		t.Fatalf("A has %d sessions, want 2", len(ss))
	}
	if ss := coreSessions(t, b); len(ss) != 0 {
		t.Fatalf("B has sessions: %+v", ss)
	}
	// Without flags, the environment still counts.
	coreBackup(t, b, 0, src)
	if ss := coreSessions(t, b); len(ss) != 1 {
		t.Fatalf("B has %d sessions, want 1", len(ss))
	}

	// init too: the repository named before the command is created.
	c := filepath.Join(a.dir, "repoC")
	b.mustRun("--repo", c, "init")
	if _, err := os.Stat(filepath.Join(c, "config")); err != nil {
		t.Fatalf("init --repo C before the command: %v", err)
	}
}
