//go:build linux

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCoreKillDuringBackup kills a backup of a ~200 MB tree with SIGKILL at
// a random moment between its start and the time a full backup takes, many
// times over. After every kill check must pass and the next backup must
// succeed; at the end the last session restores to an identical tree.
//
// Rounds go on until 20 backups were killed mid-way (at most 30 rounds).
// CABINET_CRASH_SEED repeats a run; CABINET_CRASH_KILLS changes the number
// of kills.
func TestCoreKillDuringBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 20 backups of 200 MB")
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("CABINET_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	kills := 20
	if s := os.Getenv("CABINET_CRASH_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	t.Logf("seed %d (CABINET_CRASH_SEED=%d repeats this run)", seed, seed)
	rng := rand.New(rand.NewSource(seed))

	src := filepath.Join(t.TempDir(), "src")
	// 24 files of 8 MB plus small files in folders: about 200 MB.
	for i := range 24 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("d%d/big-%02d.bin", i%4, i)), coreRandom(int64(i), 8_000_000+i), 0o644)
	}
	for i := range 200 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("small/%d/f%03d.txt", i%10, i)), []byte(strings.Repeat(fmt.Sprintf("line %d\n", i), i)), 0o644)
	}

	// The time a full backup takes, measured on a throwaway repository.
	probe := newEnv(t)
	start := time.Now()
	probe.mustRun("backup", "--quiet", src)
	full := time.Since(start)
	t.Logf("a full backup takes %v", full)
	os.RemoveAll(probe.dir)

	killed, finished := 0, 0
	var e *env
	for round := 0; killed < kills && round < kills*3/2; round++ {
		// Every round is a first backup into a new repository, so the kill
		// lands anywhere in a full backup: scanning, reading, writing
		// cabinets and index files, the session, the register.
		if e != nil {
			os.RemoveAll(e.dir)
		}
		e = newEnv(t)
		delay := time.Duration(rng.Int63n(int64(full) + 1))
		cmd := e.command("backup", "--quiet", src)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		started := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			finished++
			if err != nil {
				t.Fatalf("round %d: backup failed before the kill: %v\n%s", round, err, stderr.String())
			}
			// A full backup takes less than measured: aim the kills at
			// the time it took this time.
			took := time.Since(started)
			t.Logf("round %d: backup finished in %v, before the kill at %v", round, took, delay)
			full = took
		case <-time.After(delay):
			// The backup may end just as the kill is due: then it counts
			// as finished below.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
			err := <-done
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				killed++
			} else {
				finished++
				if err != nil {
					t.Fatalf("round %d: backup failed: %v\n%s", round, err, stderr.String())
				}
			}
		}

		r := e.run("check")
		if r.code != 0 {
			t.Fatalf("round %d: check after a kill at %v (seed %d): %s", round, delay, seed, r)
		}
		for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if l != "" && !strings.HasPrefix(l, "info: ") {
				t.Errorf("round %d: check printed %q after a kill", round, l)
			}
		}
		if r := e.run("backup", "--quiet", src); r.code != 0 {
			t.Fatalf("round %d: backup after a kill at %v (seed %d): %s", round, delay, seed, r)
		}
	}
	t.Logf("%d backups killed, %d finished before their kill", killed, finished)
	if killed < kills {
		t.Errorf("only %d backups were killed mid-way, want %d", killed, kills)
	}

	e.mustCheck()
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--quiet", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))
}

// TestCoreKillDuringRestore: a restore killed at a random moment and run
// again (if-changed) produces the same tree as an uninterrupted one.
func TestCoreKillDuringRestore(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for i := range 12 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("d%d/big-%02d.bin", i%3, i)), coreRandom(int64(i), 8<<20+i), 0o644)
	}
	for i := range 100 {
		coreWrite(t, filepath.Join(src, fmt.Sprintf("small/%d/f%03d.txt", i%7, i)), []byte(strings.Repeat("x", i*13)), 0o640)
	}
	if err := os.Link(filepath.Join(src, "d0/big-00.bin"), filepath.Join(src, "small/hardlink.bin")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("../d1", filepath.Join(src, "small/link"))
	e.mustRun("backup", "--quiet", src)

	start := time.Now()
	full := filepath.Join(e.dir, "full")
	e.mustRun("restore", "--quiet", "--target", full, "latest")
	took := time.Since(start)
	t.Logf("a restore takes %v", took)
	os.RemoveAll(full)

	killed := 0
	for round := range 5 {
		target := filepath.Join(e.dir, fmt.Sprintf("r%d", round))
		delay := time.Duration(rng.Int63n(int64(took) + 1))
		cmd := e.command("restore", "--quiet", "--target", target, "latest")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		}
		r := e.mustRun("restore", "--verify", "--target", target, "latest")
		coreOneLine(t, r.stdout, ", 0 differ")
		got := coreRestored(target, src)
		coreDiff(t, src, got)
		coreCompareTrees(t, src, got)
		os.RemoveAll(target)
	}
	t.Logf("%d of 5 restores killed mid-way", killed)
}
