//go:build linux

package integration

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestReviewKeysNewPasswordPipedStdin: key add and key passwd with the new
// password piped in (standard error still a terminal) are refused as
// wrong usage, naming --new-password-file. They prompted on the terminal,
// then failed reading standard input with "inappropriate ioctl for
// device" (exit 1): the check looked at standard error, the read at
// standard input.
func TestReviewKeysNewPasswordPipedStdin(t *testing.T) {
	e := newEnv(t)
	_, pts := openPTY(t)
	for _, sub := range []string{"add", "passwd"} {
		cmd := e.command("key", sub)
		cmd.Stdin = strings.NewReader("piped password\n")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, pts
		// What it shows on the terminal is not read: the exit code and
		// the keys left say enough.
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 2 {
			t.Errorf("key %s with the new password piped in: exit %d, want 2 (wrong usage); stdout %q", sub, code, out.String())
		}
	}
	if keys := coreKeys(t, e); len(keys) != 1 {
		t.Fatalf("keys after refused key commands: %+v", keys)
	}
	e.mustRun("sessions")
}
