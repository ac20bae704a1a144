//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestCoreBackupExcludeOptions: --exclude-file (comments and blank lines
// left out), --exclude-caches and --one-file-system through the binary;
// a missing exclude file is a one-line error.
func TestCoreBackupExcludeOptions(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for name, content := range map[string]string{
		"keep.txt":                "keep",
		"build/out.o":             "object",
		"notes.tmp":               "temporary",
		"browser/CACHEDIR.TAG":    "Signature: 8a477f597d28d172789f06886806bc55\n",
		"browser/cache-entry":     "cached",
		"docs/report.txt":         "report",
		"docs/#not-a-comment.txt": "a name starting with #",
		"mounted/under-the-mount": "hidden by the mount",
	} {
		coreWrite(t, filepath.Join(src, name), []byte(content), 0o644)
	}
	mnt := smallDisk(t, filepath.Join(src, "mounted", "fs"), "1m")
	coreWrite(t, filepath.Join(mnt, "on-another-fs"), []byte("other"), 0o644)

	excludes := filepath.Join(e.dir, "excludes")
	coreWrite(t, excludes, []byte("# build products\n\nbuild\n  *.tmp  \n"), 0o644)

	e.mustRun("backup", "--exclude-file", excludes, "--exclude-caches", "--one-file-system", src)
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	got := coreFiles(t, coreRestored(target, src))
	want := []string{"browser/CACHEDIR.TAG", "docs/#not-a-comment.txt", "docs/report.txt", "keep.txt", "mounted/under-the-mount"}
	if !slices.Equal(got, want) {
		t.Errorf("restored %q, want %q", got, want)
	}
	if fi, err := os.Stat(filepath.Join(coreRestored(target, src), "mounted", "fs")); err != nil || !fi.IsDir() {
		t.Errorf("the mount point is not kept as a folder: %v", err)
	}

	r := e.expectCode(1, "backup", "--exclude-file", filepath.Join(e.dir, "no-such-file"), src)
	coreOneLine(t, r.stderr, "exclude file", "no-such-file")
}

// TestCoreBackupLimitUpload: --limit-upload keeps the repository writes at
// or under the rate (a lower bound on the time: the rate is a ceiling), and
// the session is whole; a negative rate is wrong usage.
func TestCoreBackupLimitUpload(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "random.bin"), coreRandom(9, 2<<20), 0o644)
	start := time.Now()
	e.mustRun("backup", "--quiet", "--limit-upload", "512", src)
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("2 MiB at 512 KiB/s stored in %v", took)
	}
	e.mustCheck()
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))
	r := e.expectCode(2, "backup", "--limit-upload", "-1", src)
	coreOneLine(t, r.stderr, "--limit-upload")
}

// TestCorePatternsKeepCommasAndSpaces: a pattern is one value whatever it
// holds (urfave/cli split them at commas and trimmed spaces: --exclude
// '/x/a,b' excluded every file named b), and an empty pattern (an unset
// shell variable) is wrong usage, not a pattern that matches everything.
func TestCorePatternsKeepCommasAndSpaces(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for _, name := range []string{"a,b", "b", "sp ace ", "sp ace", "keep"} {
		coreWrite(t, filepath.Join(src, name), []byte(name), 0o644)
	}
	e.mustRun("backup", "--exclude", filepath.Join(src, "a,b"), "--exclude", "sp ace ", src)
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	if got, want := coreFiles(t, coreRestored(target, src)), []string{"b", "keep", "sp ace"}; !slices.Equal(got, want) {
		t.Errorf("backed up %q, want %q", got, want)
	}
	target2 := filepath.Join(e.dir, "restore2")
	e.mustRun("restore", "--target", target2, "--include", filepath.Join(src, "sp ace"), "--include", "nosuch, keep", "latest")
	if got, want := coreFiles(t, coreRestored(target2, src)), []string{"sp ace"}; !slices.Equal(got, want) {
		t.Errorf("restored %q, want %q", got, want)
	}
	for _, args := range [][]string{{"backup", "--exclude", "", src}, {"restore", "--target", target, "--exclude", "", "latest"}} {
		r := e.expectCode(2, args...)
		coreOneLine(t, r.stderr, "empty pattern")
	}
}

// TestCorePatternsWithInvalidUTF8: --exclude (-e) and --include (-i)
// patterns naming a file whose name is not UTF-8 match it. urfave/cli
// copied an aliased flag's values through JSON, which turned the byte
// into U+FFFD: the exclude excluded nothing and the include selected
// nothing (exit 1).
func TestCorePatternsWithInvalidUTF8(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	bad := "bad\xff.txt"
	coreWrite(t, filepath.Join(src, "ok.txt"), []byte("ok\n"), 0o644)
	coreWrite(t, filepath.Join(src, bad), []byte("bad\n"), 0o644)
	for _, flag := range []string{"--exclude", "-e"} {
		e.mustRun("backup", flag, bad, src)
		target := filepath.Join(e.dir, "restore"+flag)
		e.mustRun("restore", "--target", target, "latest")
		if _, err := os.Lstat(coreRestored(target, filepath.Join(src, bad))); err == nil {
			t.Errorf("backup %s %q: the file was backed up", flag, bad)
		}
		if _, err := os.Lstat(coreRestored(target, filepath.Join(src, "ok.txt"))); err != nil {
			t.Errorf("backup %s %q: ok.txt missing: %v", flag, bad, err)
		}
	}
	e.mustRun("backup", src)
	for _, flag := range []string{"--include", "-i"} {
		target := filepath.Join(e.dir, "include"+flag)
		e.mustRun("restore", "--target", target, flag, "*/"+bad, "latest")
		if got, err := os.ReadFile(coreRestored(target, filepath.Join(src, bad))); err != nil || string(got) != "bad\n" {
			t.Errorf("restore %s %q: %q, %v", flag, "*/"+bad, got, err)
		}
		if _, err := os.Lstat(coreRestored(target, filepath.Join(src, "ok.txt"))); err == nil {
			t.Errorf("restore %s %q also restored ok.txt", flag, "*/"+bad)
		}
	}
}
