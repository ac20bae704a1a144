//go:build linux

// Package integration runs the real cabinet binary end to end: backups,
// restores, checks, bad input, crashes and real FUSE mounts. It runs on
// Linux (signals, stat fields, FUSE); other systems build the binary only.
package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cabinetBin is the binary under test: $CABINET_BIN, or one built for this run.
var cabinetBin string

func TestMain(m *testing.M) {
	cabinetBin = os.Getenv("CABINET_BIN")
	var tmp string
	if cabinetBin == "" {
		var err error
		tmp, err = os.MkdirTemp("", "cabinet-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		cabinetBin = filepath.Join(tmp, "cabinet")
		cmd := exec.Command("go", "build", "-o", cabinetBin, "../cmd/cabinet")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build cabinet:", err)
			os.Exit(2)
		}
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// env is one test's repository, password, cache and scratch folders.
type env struct {
	t        testing.TB
	dir      string
	repo     string
	pwFile   string
	cacheDir string
	extraEnv []string
}

// newEnv creates a scratch folder and an initialised repository in it.
func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, repo: filepath.Join(dir, "repo"), pwFile: filepath.Join(dir, "password"), cacheDir: filepath.Join(dir, "cache")}
	if err := os.WriteFile(e.pwFile, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustRun("init")
	return e
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// command returns an exec.Cmd for the binary with this env's repository.
func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(cabinetBin, args...)
	cmd.Env = append(os.Environ(),
		"CABINET_REPOSITORY="+e.repo,
		"CABINET_PASSWORD_FILE="+e.pwFile,
		"CABINET_CACHE_DIR="+e.cacheDir,
		"CABINET_DEVICE=testdevice",
	)
	cmd.Env = append(cmd.Env, e.extraEnv...)
	cmd.Stdin = nil
	return cmd
}

// run runs the binary and returns its output and exit code.
func (e *env) run(args ...string) result {
	e.t.Helper()
	cmd := e.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run cabinet %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// mustRun runs the binary and fails the test unless it exits 0.
func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("cabinet %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// expectCode runs the binary and fails unless it exits with code.
func (e *env) expectCode(code int, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != code {
		e.t.Fatalf("cabinet %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

// mustCheck runs check --read-data and fails on any error.
func (e *env) mustCheck() {
	e.t.Helper()
	e.mustRun("check", "--read-data")
}
