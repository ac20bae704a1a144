//go:build linux

package integration

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reviewBackupBetween runs a backup of args while a restore holds its lock:
// the backup scans, then waits before it reads any file (pause.go). change
// runs in that window, between the scan and the reads; then the lock is
// given back. It returns the exit code and what the backup printed on
// stderr. Large files (from the chunker's minimum, 512 KiB, on) are opened
// only when read; the first small files in the queue are opened ahead of
// their reads (prefetch), before change runs.
func reviewBackupBetween(t *testing.T, e *env, change func(), args ...string) (int, string) {
	t.Helper()
	release := holdRestoreLock(t, e.cacheDir)
	defer release()
	cmd := e.command(append([]string{"backup"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	paused := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Split(scanCROrLF)
		once := false
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "paused while a restore runs") {
				once = true
				close(paused)
			}
		}
		io.Copy(io.Discard, stderr)
		if !once {
			close(paused)
		}
	}()
	<-paused
	change()
	release()
	<-done
	cmd.Wait()
	return cmd.ProcessState.ExitCode(), all.String()
}

// scanCROrLF splits progress output at carriage returns and newlines.
func scanCROrLF(data []byte, atEOF bool) (int, []byte, error) {
	for i, c := range data {
		if c == '\n' || c == '\r' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// TestBackupReviewSymlinkPlantedBeforeRead: a file replaced by a symlink
// between the scan and its read is not followed. The backup used to open
// the path following symlinks, so the session held the content of the
// link's target (here a secret outside the backed-up folder) under the
// file's name: anyone able to write in a folder root backs up could have
// any file on the machine put into the backup, and restored as theirs.
func TestBackupReviewSymlinkPlantedBeforeRead(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	secret := filepath.Join(e.dir, "secret")
	coreWrite(t, secret, []byte("the secret outside the backup\n"), 0o600)
	large := filepath.Join(src, "large.bin")
	coreWrite(t, large, coreRandom(1, 1<<20), 0o644)
	coreWrite(t, filepath.Join(src, "other.txt"), []byte("stays\n"), 0o644)

	code, stderr := reviewBackupBetween(t, e, func() {
		if err := os.Remove(large); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(secret, large); err != nil {
			t.Error(err)
		}
	}, src)
	if !strings.Contains(stderr, "paused while a restore runs") {
		t.Fatalf("the backup never paused: exit %d\n%s", code, stderr)
	}
	if code != 3 {
		t.Errorf("exit %d, want 3 (a warning for the replaced file)\n%s", code, stderr)
	}
	coreOneLine(t, stderr, "warning", large)

	target := filepath.Join(e.dir, "restore")
	e.run("restore", "--target", target, "latest")
	got, err := os.ReadFile(coreRestored(target, large))
	if err == nil && bytes.Contains(got, []byte("the secret")) {
		t.Fatalf("the session holds the symlink target's content as %s: %q", large, got)
	}
	e.mustCheck()
}

// TestBackupReviewFolderSwappedForSymlink: a folder swapped for a symlink
// between the scan and the reads is not followed either (O_NOFOLLOW covers
// a path's last name only): its files are warnings, and the session holds
// nothing of the link's target. A file replaced by another regular file
// (renamed over it, as editors save) is still read, new content and all.
func TestBackupReviewFolderSwappedForSymlink(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	outside := filepath.Join(e.dir, "outside")
	secret := append([]byte("the secret outside the backup\n"), coreRandom(2, 1<<20)...)
	coreWrite(t, filepath.Join(outside, "large.bin"), secret, 0o600)
	large := filepath.Join(src, "sub", "large.bin")
	coreWrite(t, large, coreRandom(1, 1<<20), 0o644)
	saved := filepath.Join(src, "kept", "saved.bin")
	coreWrite(t, saved, coreRandom(3, 1<<20), 0o644)
	newContent := coreRandom(4, 1<<20+5)

	code, stderr := reviewBackupBetween(t, e, func() {
		if err := os.Rename(filepath.Join(src, "sub"), filepath.Join(e.dir, "sub.moved")); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(outside, filepath.Join(src, "sub")); err != nil {
			t.Error(err)
		}
		coreWrite(t, saved+".new", newContent, 0o644)
		if err := os.Rename(saved+".new", saved); err != nil {
			t.Error(err)
		}
	}, src)
	if !strings.Contains(stderr, "paused while a restore runs") {
		t.Fatalf("the backup never paused: exit %d\n%s", code, stderr)
	}
	if code != 3 {
		t.Errorf("exit %d, want 3\n%s", code, stderr)
	}
	coreOneLine(t, stderr, "warning", large)

	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	if got, err := os.ReadFile(coreRestored(target, large)); err == nil && bytes.Contains(got, []byte("the secret")) {
		t.Fatalf("the session holds the content of a file outside the backup as %s", large)
	}
	if got, err := os.ReadFile(coreRestored(target, saved)); err != nil || !bytes.Equal(got, newContent) {
		t.Errorf("a file renamed over the scanned one: restored %d bytes (%v), want its new %d bytes", len(got), err, len(newContent))
	}
	e.mustCheck()
}
