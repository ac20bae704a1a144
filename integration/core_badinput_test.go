//go:build linux

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cabinetbackup/cabinet/repo"
)

// coreRunCmd runs cmd (made from e.command) and returns its result.
func coreRunCmd(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// coreWithPassword returns a copy of e that uses password pw.
func coreWithPassword(t testing.TB, e *env, pw string) *env {
	t.Helper()
	f := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(f, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := *e
	c.pwFile = f
	return &c
}

// coreRepoFiles lists the files below dir of the repository (relative to
// the repository, slash separated).
func coreRepoFiles(t testing.TB, e *env, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	root := filepath.Join(e.repo, dir)
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(e.repo, p)
		out[filepath.ToSlash(rel)] = fi.Size()
		return nil
	})
	return out
}

// coreNewFiles returns the files in after but not in before, largest first.
func coreNewFiles(before, after map[string]int64) []string {
	var out []string
	for p := range after {
		if _, ok := before[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return after[out[i]] > after[out[j]] })
	return out
}

// coreFlipBit flips one bit of the byte at off (negative: from the end).
func coreFlipBit(t testing.TB, path string, off int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(data)
	}
	data[off] ^= 0x10
	if err := os.WriteFile(path, data, 0o400); err != nil {
		t.Fatal(err)
	}
}

func coreTruncate(t testing.TB, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func TestCoreWrongPassword(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("data"), 0o644)
	e.mustRun("backup", src)
	bad := coreWithPassword(t, e, "not the password")
	for _, args := range [][]string{{"backup", src}, {"sessions"}, {"restore", "--target", filepath.Join(e.dir, "r"), "latest"}, {"check"}, {"key", "list"}} {
		r := bad.expectCode(12, args...)
		coreOneLine(t, r.stderr, "wrong password", "the password in "+bad.pwFile)
		if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
			t.Errorf("%v: want a one-line error, got:\n%s", args, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "r")); err == nil {
		t.Errorf("restore with a wrong password created its target")
	}
	e.mustCheck()
}

func TestCoreNoRepository(t *testing.T) {
	dir := t.TempDir()
	notRepo := filepath.Join(dir, "just-a-folder")
	coreWrite(t, filepath.Join(notRepo, "some-file"), []byte("x"), 0o644)
	missing := filepath.Join(dir, "does-not-exist")
	cases := []struct{ name, repo string }{
		{"missing path", missing},
		{"folder that is not a repository", notRepo},
		{"file", filepath.Join(notRepo, "some-file")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, dir: dir, repo: c.repo, pwFile: filepath.Join(dir, "pw"), cacheDir: filepath.Join(dir, "cache")}
			os.WriteFile(e.pwFile, []byte("pw\n"), 0o600)
			for _, args := range [][]string{{"backup", notRepo}, {"sessions"}, {"check"}, {"restore", "latest"}, {"key", "list"}} {
				r := e.expectCode(10, args...)
				line := coreOneLine(t, r.stderr, c.repo)
				if !strings.Contains(line, "no cabinet repository") || !strings.Contains(line, "cabinet init") {
					t.Errorf("%v: unclear message %q", args, line)
				}
			}
			if c.repo == missing {
				if _, err := os.Stat(c.repo); err == nil {
					t.Errorf("a command created the missing repository folder %s", c.repo)
				}
			}
		})
	}
}

// coreTwoSessions backs up keep.bin, then adds hit.bin, and returns the
// repository files the second backup added.
func coreTwoSessions(t *testing.T) (e *env, src string, added []string) {
	e = newEnv(t)
	src = filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "keep.bin"), coreRandom(1, 2<<20), 0o644)
	coreBackup(t, e, 0, src)
	before := coreRepoFiles(t, e, "")
	coreWrite(t, filepath.Join(src, "hit.bin"), coreRandom(2, 3<<20), 0o644)
	coreBackup(t, e, 0, src)
	return e, src, coreNewFiles(before, coreRepoFiles(t, e, ""))
}

func coreFirstWithPrefix(t testing.TB, names []string, prefix string) string {
	t.Helper()
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return n
		}
	}
	t.Fatalf("no %s* among %q", prefix, names)
	return ""
}

func TestCoreDamagedCabinet(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		// seen by a check without --read-data
		structural bool
	}{
		{"truncated", func(t *testing.T, p string) { coreTruncate(t, p, coreFileSize(t, p)/2) }, true},
		{"bit flipped", func(t *testing.T, p string) { coreFlipBit(t, p, int(coreFileSize(t, p)/3)) }, false},
		{"deleted", func(t *testing.T, p string) { os.Remove(p) }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, src, added := coreTwoSessions(t)
			// The largest new object is the data cabinet holding hit.bin.
			cab := coreFirstWithPrefix(t, added, "data/")
			id := filepath.Base(cab)
			c.damage(t, filepath.Join(e.repo, cab))
			if c.structural {
				r := e.expectCode(13, "check")
				coreOneLine(t, r.stderr, "error", id)
			}

			r := e.expectCode(13, "check", "--read-data")
			coreOneLine(t, r.stderr, "error", id)
			coreOneLine(t, r.stderr, "affects", filepath.Join(src, "hit.bin"))
			if strings.Contains(r.stderr, filepath.Join(src, "keep.bin")) {
				t.Errorf("check says keep.bin is affected, but its cabinet is intact:\n%s", r.stderr)
			}
			coreOneLine(t, r.stderr, "damaged or missing data")

			// Restoring the affected file names it; the rest comes back.
			target := filepath.Join(e.dir, "restore")
			rr := e.run("restore", "--target", target, "latest")
			if rr.code == 0 {
				t.Fatalf("restore of a damaged file succeeded: %s", rr)
			}
			coreOneLine(t, rr.stderr, "warning", filepath.Join(target, src, "hit.bin"))
			if rr.code != 3 {
				t.Errorf("restore with a damaged file: want exit 3 (warnings), got %d", rr.code)
			}
			got, err := os.ReadFile(coreRestored(target, filepath.Join(src, "keep.bin")))
			if err != nil || !bytes.Equal(got, coreRandom(1, 2<<20)) {
				t.Errorf("keep.bin was not restored intact: %v", err)
			}
			// Restoring again (if-changed) must not take the damaged file
			// for a finished one: it is tried and reported again, and it is
			// not counted as restored.
			rr = e.run("restore", "--json", "--target", target, "latest")
			coreOneLine(t, rr.stderr, "warning", filepath.Join(target, src, "hit.bin"))
			var out struct{ Stats coreRestoreStats }
			if err := json.Unmarshal([]byte(rr.stdout), &out); err != nil {
				t.Fatalf("restore --json: %v\n%s", err, rr)
			}
			if out.Stats.Files != 0 || out.Stats.Skipped != 1 || out.Stats.Warnings != 1 {
				t.Errorf("second restore over a damaged file: %+v, want 0 restored, 1 skipped (keep.bin), 1 warning", out.Stats)
			}
		})
	}
}

func TestCoreDamagedIndex(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"truncated", func(t *testing.T, p string) { coreTruncate(t, p, coreFileSize(t, p)-7) }},
		{"bit flipped", func(t *testing.T, p string) { coreFlipBit(t, p, int(coreFileSize(t, p)/2)) }},
	}
	for _, c := range cases {
		for _, withCache := range []bool{false, true} {
			name := c.name
			if withCache {
				name += " with cache"
			}
			t.Run(name, func(t *testing.T) {
				e, src, added := coreTwoSessions(t)
				idx := coreFirstWithPrefix(t, added, "index/")
				c.damage(t, filepath.Join(e.repo, idx))
				if !withCache {
					os.RemoveAll(e.cacheDir)
				}
				r := e.expectCode(13, "check")
				coreOneLine(t, r.stderr, "error", idx, "damaged")
				// The second session's trees and hit.bin are listed in the
				// damaged index only: check names what that costs.
				coreOneLine(t, r.stderr, "affects", "testdevice")
				coreOneLine(t, r.stderr, "damaged or missing data")
				// Restore of the first session still works.
				ss := coreSessions(t, e)
				target := filepath.Join(e.dir, "restore")
				e.mustRun("restore", "--target", target, ss[0].ShortID)
				coreDiff(t, filepath.Join(src, "keep.bin"), coreRestored(target, filepath.Join(src, "keep.bin")))
				// check's advice: 'backup --force' stores what the damaged
				// index listed again, though the register (kept) says
				// nothing changed, and its session restores completely. The
				// cache's good copy of the index file goes: it would hide
				// the damage from this machine.
				filepath.WalkDir(e.cacheDir, func(p string, d os.DirEntry, err error) error {
					if err == nil && d.Name() == filepath.Base(idx) {
						os.Remove(p)
					}
					return nil
				})
				coreOneLine(t, e.expectCode(13, "check").stderr, "repair index", "backup --force")
				s, b := coreBackup(t, e, 0, "--force", src)
				coreOneLine(t, b.stderr, "warning", idx)
				if s.Summary.FilesNew != 2 || s.Summary.BytesRead != 5<<20 {
					t.Errorf("backup --force: %+v, want both files read again", s.Summary)
				}
				target2 := filepath.Join(e.dir, "restore2")
				e.mustRun("restore", "--target", target2, "latest")
				coreDiff(t, src, coreRestored(target2, src))
			})
		}
	}
}

func TestCoreDamagedKeyFile(t *testing.T) {
	cases := []struct {
		name   string
		damage func(data []byte) []byte
	}{
		{"bit flipped in the middle", func(d []byte) []byte { d[len(d)/2] ^= 0x10; return d }},
		{"bit flipped in the wrapped key", func(d []byte) []byte {
			i := bytes.Index(d, []byte(`"master": "`)) + len(`"master": "`) + 10
			// Flip a bit and keep the character valid base64.
			if d[i] == 'A' {
				d[i] = 'B'
			} else {
				d[i] = 'A'
			}
			return d
		}},
		{"bit flipped in the salt", func(d []byte) []byte {
			i := bytes.Index(d, []byte(`"salt": "`)) + len(`"salt": "`) + 3
			if d[i] == 'A' {
				d[i] = 'B'
			} else {
				d[i] = 'A'
			}
			return d
		}},
		{"truncated", func(d []byte) []byte { return d[:len(d)-20] }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			keys := coreRepoFiles(t, e, "keys")
			if len(keys) != 1 {
				t.Fatalf("want one key file, have %v", keys)
			}
			var kf string
			for k := range keys {
				kf = k
			}
			p := filepath.Join(e.repo, kf)
			data, _ := os.ReadFile(p)
			if err := os.WriteFile(p, c.damage(data), 0o400); err != nil {
				t.Fatal(err)
			}
			r := e.run("sessions")
			if r.code == 0 {
				t.Fatalf("a damaged key file opened the repository: %s", r)
			}
			line := coreOneLine(t, r.stderr, kf)
			if !strings.Contains(line, "damaged") {
				t.Errorf("exit %d; message does not say the key file is damaged: %q", r.code, line)
			}
			if r.code != 13 {
				t.Errorf("damaged key file: want exit 13 (damaged), got %d: %q", r.code, line)
			}
			// check must open the repository too: it cannot help.
			if strings.Contains(line, "cabinet check") || !strings.Contains(line, "copy of the repository") {
				t.Errorf("damaged key file: want advice to use a copy, not check: %q", line)
			}
		})
	}
}

// TestCoreDamagedConfig: a config that does not decode names the
// repository and says to put the file back from a copy: check, which must
// open the repository first, cannot help.
func TestCoreDamagedConfig(t *testing.T) {
	for _, garbage := range []string{"garbage\n", "{}", `{"format_version": 5, "id": "xyz"}`} {
		e := newEnv(t)
		if err := os.Chmod(filepath.Join(e.repo, "config"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.repo, "config"), []byte(garbage), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"sessions"}, {"check"}} {
			r := e.expectCode(13, args...)
			line := coreOneLine(t, r.stderr, "config")
			if !strings.Contains(line, e.repo) || strings.Contains(line, "cabinet check") || !strings.Contains(line, "copy of the repository") {
				t.Errorf("%s with config %q: want the repository named and a copy advised: %q", args[0], garbage, line)
			}
		}
	}
}

func TestCoreFutureFormatVersion(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.repo, "config")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["format_version"] = 99
	data, _ = json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(p, data, 0o400); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"sessions"}, {"backup", e.dir}, {"check"}} {
		r := e.run(args...)
		if r.code == 0 || r.code == 10 || r.code == 12 {
			t.Fatalf("%v with format version 99: %s", args, r)
		}
		line := coreOneLine(t, r.stderr, "version 99", fmt.Sprintf("to %d", repo.FormatVersion))
		if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("want one line, got %q", r.stderr)
		}
		_ = line
	}
}

func TestCoreUnreadableSourceFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("drops root's file access capabilities; needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not found: cannot make a file unreadable for root")
	}
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "ok.txt"), []byte("readable\n"), 0o644)
	coreWrite(t, filepath.Join(src, "locked.txt"), []byte("secret\n"), 0o644)
	coreWrite(t, filepath.Join(src, "lockeddir/inner.txt"), []byte("inner\n"), 0o644)
	os.Chmod(filepath.Join(src, "locked.txt"), 0)
	os.Chmod(filepath.Join(src, "lockeddir"), 0)
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "lockeddir"), 0o755) })

	// Without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH root obeys modes.
	cmd := e.command("backup", "--json", src)
	cmd.Args = append([]string{setpriv, "--bounding-set", "-dac_override,-dac_read_search", cabinetBin}, cmd.Args[1:]...)
	cmd.Path = setpriv
	r := coreRunCmd(t, cmd)
	if r.code != 3 {
		t.Fatalf("backup with unreadable files: want exit 3, got %s", r)
	}
	var s coreSession
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if s.Status != "completed with warnings" || s.Summary.Warnings != 2 {
		t.Errorf("status %q with %d warnings, want \"completed with warnings\" with 2", s.Status, s.Summary.Warnings)
	}
	// The totals are what the session holds: ok.txt, not the file that
	// could not be read (nor what the locked folder holds, never listed).
	if s.Summary.TotalFiles != 1 || s.Summary.TotalBytes != int64(len("readable\n")) {
		t.Errorf("summary counts %d files of %d bytes, want the one readable file of %d", s.Summary.TotalFiles, s.Summary.TotalBytes, len("readable\n"))
	}
	coreOneLine(t, r.stderr, "warning", filepath.Join(src, "locked.txt"), "permission denied")
	coreOneLine(t, r.stderr, "warning", filepath.Join(src, "lockeddir"), "permission denied")
	coreOneLine(t, r.stderr, "completed with 2 warnings")
	ss := coreSessions(t, e)
	if len(ss) != 1 || ss[0].Status != "completed with warnings" {
		t.Fatalf("sessions: %+v", ss)
	}
	e.mustCheck()
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	if got, err := os.ReadFile(coreRestored(target, filepath.Join(src, "ok.txt"))); err != nil || string(got) != "readable\n" {
		t.Errorf("ok.txt: %q %v", got, err)
	}
	if _, err := os.Lstat(coreRestored(target, filepath.Join(src, "locked.txt"))); err == nil {
		t.Errorf("the unreadable file was restored (as what?)")
	}
}

func TestCoreDamagedSession(t *testing.T) {
	e, src, added := coreTwoSessions(t)
	sess := coreFirstWithPrefix(t, added, "sessions/")
	coreFlipBit(t, filepath.Join(e.repo, sess), 50)

	r := e.mustRun("sessions")
	coreOneLine(t, r.stderr, "warning", sess)
	r = e.expectCode(13, "check")
	coreOneLine(t, r.stderr, "error", sess)
	r = e.run("restore", "--target", filepath.Join(e.dir, "r"), filepath.Base(sess)[:8])
	if r.code == 0 {
		t.Errorf("restore of a damaged session succeeded: %s", r)
	}
	coreOneLine(t, r.stderr, sess)
	// The other session is intact and a new backup works.
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	coreDiff(t, filepath.Join(src, "keep.bin"), coreRestored(target, filepath.Join(src, "keep.bin")))
	e.mustRun("backup", src)
}

// TestCoreWarningForNewlineNameIsOneLine: the warning about a file whose
// name holds a newline stays one line (the newline escaped as \n), so a
// script reading warnings line by line gets one per file.
func TestCoreWarningForNewlineNameIsOneLine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("drops root's file access capabilities; needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not found: cannot make a file unreadable for root")
	}
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "ok.txt"), []byte("readable\n"), 0o644)
	coreWrite(t, filepath.Join(src, "two\nlines.txt"), []byte("secret\n"), 0o644)
	os.Chmod(filepath.Join(src, "two\nlines.txt"), 0)
	cmd := e.command("backup", src)
	cmd.Args = append([]string{setpriv, "--bounding-set", "-dac_override,-dac_read_search", cabinetBin}, cmd.Args[1:]...)
	cmd.Path = setpriv
	r := coreRunCmd(t, cmd)
	if r.code != 3 {
		t.Fatalf("backup with an unreadable file: want exit 3, got %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the warning and the summary line, got %d lines:\n%s", len(lines), r.stderr)
	}
	coreOneLine(t, r.stderr, "warning", filepath.Join(src, `two\nlines.txt`), "permission denied")
}

// TestCoreBackupPathThroughSymlink: a backup path that goes through a
// symlinked folder (backup .../link/sub, link -> real) restores below the
// path as given, with the content, and a clean exit. The folder was kept
// as a symlink with children: the restore made the link and could not
// write beneath it (0 files, exit 3).
func TestCoreBackupPathThroughSymlink(t *testing.T) {
	e := newEnv(t)
	real := filepath.Join(e.dir, "real")
	coreWrite(t, filepath.Join(real, "sub", "f.txt"), []byte("through the link\n"), 0o644)
	if err := os.Symlink(real, filepath.Join(e.dir, "link")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(e.dir, "link", "sub")
	e.mustRun("backup", src)
	target := filepath.Join(e.dir, "restore")
	e.mustRun("restore", "--target", target, "latest")
	got, err := os.ReadFile(coreRestored(target, filepath.Join(src, "f.txt")))
	if err != nil || string(got) != "through the link\n" {
		t.Fatalf("restored %q, %v", got, err)
	}
	if fi, err := os.Lstat(coreRestored(target, filepath.Join(e.dir, "link"))); err != nil || !fi.IsDir() {
		t.Fatalf("the linked folder restored as %v, %v; want a folder", fi.Mode(), err)
	}
	e.mustCheck()
}
