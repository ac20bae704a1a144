//go:build linux

package integration

import (
	"strings"
	"testing"
)

// TestCLIUnknownCommand: a misspelt command or subcommand is wrong usage,
// exit 2, with one line naming it and the commands there are. It exited 3,
// "finished with warnings", with "No help topic for 'bakup'".
func TestCLIUnknownCommand(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		args []string
		says []string
	}{
		{[]string{"bakup", "src"}, []string{`unknown command "bakup"`, "backup", "--help"}},
		{[]string{"bogus", "--help"}, []string{`unknown command "bogus"`, "--help"}},
		{[]string{"--help", "bogus"}, []string{`unknown command "bogus"`, "--help"}},
		{[]string{"key", "bogus"}, []string{`unknown command "key bogus"`, "of key", "passwd", "--help"}},
		{[]string{"key", "bogus", "--help"}, []string{`unknown command "key bogus"`, "--help"}},
		{[]string{"persona", "bogus"}, []string{`unknown command "persona bogus"`, "capture", "--help"}},
	}
	for _, c := range cases {
		r := e.expectCode(2, c.args...)
		if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 {
			t.Errorf("%v: want a one-line message, got:\n%s", c.args, r.stderr)
		}
		coreOneLine(t, r.stderr, c.says...)
		if r.stdout != "" {
			t.Errorf("%v printed %q", c.args, r.stdout)
		}
	}
	// Help and known commands are unchanged.
	e.mustRun("--help")
	e.mustRun("key")
	e.mustRun("key", "list", "--help")
	e.mustRun("key", "list")
}

// TestCLIHelpCommand: 'cabinet help COMMAND' shows the command's help, as
// 'cabinet persona help' did; it was an unknown command (exit 2).
func TestCLIHelpCommand(t *testing.T) {
	e := newEnv(t)
	r := e.mustRun("help", "backup")
	if !strings.Contains(r.stdout, "cabinet backup - ") || !strings.Contains(r.stdout, "Example") {
		t.Fatalf("help backup:\n%s", r)
	}
	r = e.expectCode(2, "help", "nosuch")
	coreOneLine(t, r.stderr, "unknown command", "nosuch")
}
