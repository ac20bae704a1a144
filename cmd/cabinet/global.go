package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/backend/limit"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
)

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "repo", Aliases: []string{"r"}, EnvVars: []string{"CABINET_REPOSITORY"}, Usage: "repository `LOCATION` (default: the embedded default repository in your data folder)"},
		&cli.StringFlag{Name: "password-file", EnvVars: []string{"CABINET_PASSWORD_FILE"}, Usage: "read the password from `FILE`"},
		&cli.StringFlag{Name: "password-command", EnvVars: []string{"CABINET_PASSWORD_COMMAND"}, Usage: "run `COMMAND` (with sh -c) and use its output as the password"},
		&cli.StringFlag{Name: "cache-dir", EnvVars: []string{"CABINET_CACHE_DIR"}, Usage: "local cache and register `DIR` (default: your cache folder)"},
		&cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
	}
}

// flag returns a global or command flag: the same flags are accepted
// before and after the command name.
func flagString(c *cli.Context, name string) string {
	for _, x := range c.Lineage() {
		if x.IsSet(name) {
			return x.String(name)
		}
	}
	return c.String(name)
}

func flagBool(c *cli.Context, name string) bool {
	for _, x := range c.Lineage() {
		if x.IsSet(name) && x.Bool(name) {
			return true
		}
	}
	return false
}

// dataDir is where the embedded default repository lives.
func dataDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return d, nil
		}
	case "darwin":
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, "Library", "Application Support"), nil
		}
	default:
		if d := os.Getenv("XDG_DATA_HOME"); d != "" {
			return d, nil
		}
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".local", "share"), nil
		}
	}
	return "", errors.New("cannot find your data folder: name a repository with --repo or CABINET_REPOSITORY")
}

// repoLocation returns the repository path and whether it is the default one.
func repoLocation(c *cli.Context) (string, bool, error) {
	if loc := flagString(c, "repo"); loc != "" {
		return loc, false, nil
	}
	d, err := dataDir()
	if err != nil {
		return "", false, err
	}
	return filepath.Join(d, "cabinet", "repository"), true, nil
}

// defaultPasswordFile holds the generated password of the default repository.
func defaultPasswordFile() (string, error) {
	d, err := dataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "cabinet", "default-repository.password"), nil
}

// password finds the password: flag or environment, then (for the default
// repository) its generated password file, then a terminal prompt. source
// says where it came from, for an error that names it: a user with a
// password file in the environment and a prompt in mind looks in the wrong
// place otherwise.
func password(c *cli.Context, isDefault, creating bool) (pw []byte, source string, err error) {
	if flagString(c, "password-file") != "" && flagString(c, "password-command") != "" {
		// As restic: which one wins is not for a guess (one may come
		// from the environment, the other from the command line).
		return nil, "", usagef("both a password file (--password-file or CABINET_PASSWORD_FILE) and a password command (--password-command or CABINET_PASSWORD_COMMAND) are set: give one")
	}
	if f := flagString(c, "password-file"); f != "" {
		pw, err := readPasswordFile(f, "password file")
		return pw, "in " + f, err
	}
	if cmd := flagString(c, "password-command"); cmd != "" {
		pc := exec.CommandContext(c.Context, "sh", "-c", cmd)
		// Its messages (why gpg or pass failed) go to our standard error,
		// and a pinentry reads the terminal: Output kept the former only
		// in the error, which does not print it.
		pc.Stdin, pc.Stderr = os.Stdin, os.Stderr
		out, err := pc.Output()
		if err != nil {
			// %v: an *exec.ExitError is a cli.ExitCoder, and the
			// command's exit status became cabinet's (2, wrong usage).
			return nil, "", fmt.Errorf("password command %q failed: %v", cmd, err)
		}
		pw, err := trimPassword(out, "password command")
		return pw, fmt.Sprintf("that %q printed", cmd), err
	}
	if isDefault {
		pf, err := defaultPasswordFile()
		if err != nil {
			return nil, "", err
		}
		if _, err := os.Stat(pf); err == nil {
			pw, err := readPasswordFile(pf, "password file")
			return pw, "in " + pf, err
		}
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		pw, err := promptPassword(c.Context, "repository password", creating)
		return pw, "typed at the prompt", err
	}
	return nil, "", usagef("no password given: set CABINET_PASSWORD_FILE or CABINET_PASSWORD_COMMAND, or use --password-file")
}

// promptPassword asks for a password on the terminal under label, twice
// when twice (a new one).
func promptPassword(ctx context.Context, label string, twice bool) ([]byte, error) {
	fmt.Fprintf(os.Stderr, "%s: ", label)
	pw, err := readPassword(ctx, int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, err
	}
	if twice {
		fmt.Fprintf(os.Stderr, "repeat the %s: ", label)
		again, err := readPassword(ctx, int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(pw, again) {
			return nil, errors.New("the passwords differ: try again")
		}
	}
	return trimPassword(pw, label)
}

// readPassword reads a password from the terminal fd until ctx is done.
// signal.NotifyContext takes SIGINT, so Ctrl-C at the prompt did nothing
// until Enter: the read runs in a goroutine (left blocked, the process is
// ending), and an interrupt restores the terminal's echo and returns the
// context's error (exit code 130).
func readPassword(ctx context.Context, fd int) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	type result struct {
		pw  []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		pw, err := term.ReadPassword(fd)
		done <- result{pw, err}
	}()
	select {
	case r := <-done:
		return r.pw, r.err
	case <-ctx.Done():
		term.Restore(fd, state)
		return nil, ctx.Err()
	}
}

// generateDefaultPassword makes a random password for the default
// repository; init keeps it with saveDefaultPassword once the repository
// is created.
func generateDefaultPassword() ([]byte, error) {
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	return []byte(base64.RawURLEncoding.EncodeToString(raw[:])), nil
}

// saveDefaultPassword writes pw to pf (mode 0600), which must not exist:
// a file there is some repository's password.
func saveDefaultPassword(pf string, pw []byte) error {
	if err := os.MkdirAll(filepath.Dir(pf), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(pf, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(pw, '\n')); err != nil {
		f.Close()
		os.Remove(pf)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(pf)
		return err
	}
	return f.Close()
}

// maxPasswordFile is the most a password file may hold: a bigger one
// (a path to /dev/zero, a disk image named by mistake) is not read to the
// end of memory.
const maxPasswordFile = 64 << 10

// readPasswordFile reads the password in file f; what names it in errors.
func readPasswordFile(f, what string) ([]byte, error) {
	fh, err := os.Open(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxPasswordFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(data) > maxPasswordFile {
		return nil, fmt.Errorf("%s %s holds more than %d KiB: not a password file", what, f, maxPasswordFile>>10)
	}
	return trimPassword(data, what+" "+f)
}

func trimPassword(data []byte, what string) ([]byte, error) {
	pw := bytes.TrimRight(data, "\r\n")
	if len(pw) == 0 {
		return nil, fmt.Errorf("%s is empty", what)
	}
	return pw, nil
}

// cacheDir returns the local cache and register folder.
func cacheDir(c *cli.Context) string {
	if d := flagString(c, "cache-dir"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "cabinet")
	}
	return ""
}

// openRepository opens the repository the flags and environment name.
func openRepository(c *cli.Context) (*repo.Repository, error) {
	loc, isDefault, err := repoLocation(c)
	if err != nil {
		return nil, err
	}
	var be backend.Backend = local.New(loc)
	// Commands that write much (backup) have --limit-upload, in KiB/s.
	if kib := c.Int("limit-upload"); kib > 0 {
		lb, err := limit.Uploads(be, kib<<10)
		if err != nil {
			return nil, err
		}
		be = lb
	}
	// Refuse a missing repository or an unknown version before asking for a password.
	if _, err := repo.ReadConfig(c.Context, be); err != nil {
		if errors.Is(err, repo.ErrNoRepository) && isDefault {
			return nil, fmt.Errorf("%w: the default repository %s does not exist yet", repo.ErrNoRepository, loc)
		}
		return nil, err
	}
	pw, source, err := password(c, isDefault, false)
	if err != nil {
		return nil, err
	}
	opts := repo.Options{CacheDir: cacheDir(c), Warn: func(err error) {
		printStderr("warning: " + oneLine(err.Error()))
	}}
	r, err := repo.Open(c.Context, be, pw, opts)
	if pf, _ := defaultPasswordFile(); errors.Is(err, repo.ErrWrongPassword) && isDefault && source == "in "+pf &&
		flagString(c, "password-file") == "" && term.IsTerminal(int(os.Stdin.Fd())) {
		// A kept password that no longer opens the default repository
		// (left by an older init, say) must not lock out whoever knows
		// the right one: ask.
		printStderr(fmt.Sprintf("warning: the password kept in %s does not open %s", pf, loc))
		if pw, err = promptPassword(c.Context, "repository password", false); err != nil {
			return nil, err
		}
		source = "typed at the prompt"
		r, err = repo.Open(c.Context, be, pw, opts)
	}
	if errors.Is(err, repo.ErrWrongPassword) {
		return nil, fmt.Errorf("%s: %w (the password %s)", loc, err, source)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	// The key derivation's 32 MiB are garbage now: give them back before
	// the command's own work, whose peak would otherwise stack on them.
	debug.FreeOSMemory()
	return r, nil
}

// deviceName is --device, or CABINET_DEVICE, or the host name.
func deviceName(c *cli.Context) string {
	if d := flagString(c, "device"); d != "" {
		return d
	}
	if d := os.Getenv("CABINET_DEVICE"); d != "" {
		return d
	}
	h, _ := os.Hostname()
	return h
}

func deviceFlag() cli.Flag {
	return &cli.StringFlag{Name: "device", EnvVars: []string{"CABINET_DEVICE"}, Usage: "device `NAME` (default: the host name)"}
}

// printJSON writes v as indented JSON on standard output.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func isTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// warnPrinter prints per-file warnings on standard error.
func warnPrinter(prefix string) func(string, error) {
	return func(path string, err error) {
		msg := err.Error()
		if !strings.Contains(msg, path) {
			msg = path + ": " + msg
		}
		printStderr("warning: " + prefix + oneLine(msg))
	}
}

// oneLine escapes the control characters of s (\n, \t, \x1b...) so that a
// message naming a file with a newline in its name stays one line, as
// scripts reading warnings line by line expect. Other bytes, invalid
// UTF-8 too, are kept.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte(s[i])
		case unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// patternsFlag is a repeatable flag of path patterns (--include,
// --exclude). cli.StringSliceFlag is not used: urfave/cli copies an
// aliased flag's values to its other names through JSON, which turns bytes
// that are not UTF-8 into U+FFFD, so a pattern naming such a file matched
// nothing.
func patternsFlag(name, alias, usage string) *cli.GenericFlag {
	return &cli.GenericFlag{Name: name, Aliases: []string{alias}, Usage: usage, Value: &patternList{}}
}

// patterns returns the values of a patternsFlag.
func patterns(c *cli.Context, name string) []string {
	if p, ok := c.Generic(name).(*patternList); ok {
		return p.values
	}
	return nil
}

// patternList holds a patternsFlag's values, bytes as given.
type patternList struct{ values []string }

// patternListCopy starts the copy urfave/cli makes of an aliased flag
// (Serialize, then Set): command-line arguments hold no NUL byte, so no
// value given can start with it, and a NUL ends each value (an empty
// one, refused later, included).
const patternListCopy = "\x00patterns\x00"

func (p *patternList) Set(v string) error {
	if rest, ok := strings.CutPrefix(v, patternListCopy); ok {
		p.values = nil
		for len(rest) > 0 {
			value, after, _ := strings.Cut(rest, "\x00")
			p.values = append(p.values, value)
			rest = after
		}
		return nil
	}
	p.values = append(p.values, v)
	return nil
}

func (p *patternList) String() string { return strings.Join(p.values, ", ") }

// Serialize is what urfave/cli copies an aliased flag's values with.
func (p *patternList) Serialize() string {
	var b strings.Builder
	b.WriteString(patternListCopy)
	for _, v := range p.values {
		b.WriteString(v)
		b.WriteByte(0)
	}
	return b.String()
}

// limitUploadFlag is --limit-upload of the commands that store much.
func limitUploadFlag() cli.Flag {
	return &cli.IntFlag{Name: "limit-upload", Usage: "write to the repository at most `KIB` KiB a second", DefaultText: "no limit"}
}

// sessionTags is --tag, each tag checked: an empty one would show as
// nothing in 'sessions' and match no filter.
func sessionTags(c *cli.Context) ([]string, error) {
	tags := c.StringSlice("tag")
	for _, t := range tags {
		if strings.TrimSpace(t) == "" {
			return nil, usagef("--tag wants a non-empty TAG")
		}
	}
	return tags, nil
}
