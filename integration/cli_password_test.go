//go:build linux

package integration

import (
	"strings"
	"testing"
)

// TestCLIPasswordCommandStderr: what a failing password command prints on
// standard error (gpg's or pass's reason) is shown. It was swallowed: only
// "exit status 2" was left. Its exit status is not cabinet's either: 2
// would say wrong usage.
func TestCLIPasswordCommandStderr(t *testing.T) {
	e := newEnv(t)
	e.extraEnv = []string{"CABINET_PASSWORD_FILE=", `CABINET_PASSWORD_COMMAND=printf 'gpg: %s\n' "no secret key" >&2; exit 2`}
	r := e.expectCode(1, "sessions")
	if !strings.Contains("\n"+r.stderr, "\ngpg: no secret key\n") {
		t.Fatalf("the command's message is not shown:\n%s", r)
	}
	coreOneLine(t, r.stderr, "password command", "failed")
	// A command that works still gives the password, from its output only.
	e.extraEnv = []string{"CABINET_PASSWORD_FILE=", "CABINET_PASSWORD_COMMAND=echo noise >&2; cat " + e.pwFile}
	r = e.mustRun("sessions")
	coreOneLine(t, r.stderr, "noise")
}
