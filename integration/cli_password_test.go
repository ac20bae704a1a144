//go:build linux

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// openPTY opens a pseudo-terminal: its controlling side and the terminal.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		ptm.Close()
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		ptm.Close()
		t.Skipf("pseudo-terminal number: %v", err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		ptm.Close()
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptm.Close(); pts.Close() })
	return ptm, pts
}

// startOnPTY starts cmd with the terminal pts as its standard input and
// outputs, and returns what it has shown so far (read from ptm).
func startOnPTY(t *testing.T, cmd *exec.Cmd, ptm, pts *os.File) (shown func() string) {
	t.Helper()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
}

// waitShown waits up to 10 s for cmd to show want, and fails (killing it)
// if it does not.
func waitShown(t *testing.T, cmd *exec.Cmd, shown func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(shown(), want) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no %q shown: %q", want, shown())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCLIPasswordPromptInterrupt: Ctrl-C at the password prompt ends
// cabinet at once, exit 130, with the terminal's echo back on. The
// interrupt only cancelled a context while the read went on: nothing
// happened until Enter.
func TestCLIPasswordPromptInterrupt(t *testing.T) {
	e := newEnv(t)
	ptm, pts := openPTY(t)
	e.extraEnv = []string{"CABINET_PASSWORD_FILE="}
	cmd := e.command("sessions")
	shown := startOnPTY(t, cmd, ptm, pts)
	waitShown(t, cmd, shown, "repository password:")
	time.Sleep(100 * time.Millisecond) // into the read
	cmd.Process.Signal(os.Interrupt)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 130 {
			t.Fatalf("exit %d after Ctrl-C at the prompt, want 130; shown: %q", code, shown())
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("Ctrl-C at the prompt did not end cabinet; shown: %q", shown())
	}
	tio, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO == 0 {
		t.Fatal("the terminal's echo is left off")
	}
}

// TestCLIKeyAddPrompt: on a terminal, key add asks for the new password
// under its own label, twice, and the key it adds opens the repository.
// It asked "repository password:" as for the one in use.
func TestCLIKeyAddPrompt(t *testing.T) {
	e := newEnv(t)
	ptm, pts := openPTY(t)
	cmd := e.command("key", "add")
	shown := startOnPTY(t, cmd, ptm, pts)
	for _, prompt := range []string{"new password:", "repeat the new password:"} {
		waitShown(t, cmd, shown, prompt)
		ptm.Write([]byte("a second password\n"))
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("key add: %v; shown: %q", err, shown())
	}
	if strings.Contains(shown(), "repository password:") {
		t.Errorf("key add asked for the repository password, the one in use came from a file: %q", shown())
	}
	second := e.dir + "/second-password"
	if err := os.WriteFile(second, []byte("a second password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.extraEnv = []string{"CABINET_PASSWORD_FILE=" + second}
	e.mustRun("sessions")
}

// TestCLIPasswordSources: a password file and a password command set at
// once (one from the environment, one from the command line, say) are
// refused as restic refuses them: the file silently won, so a
// --password-command that should have failed exited 0. A password file
// of more than 64 KiB (/dev/zero named by mistake) is refused, not read
// until memory runs out.
func TestCLIPasswordSources(t *testing.T) {
	e := newEnv(t)
	r := e.expectCode(2, "sessions", "--password-command", "false")
	coreOneLine(t, r.stderr, "password file", "password command", "give one")
	e.extraEnv = []string{"CABINET_PASSWORD_FILE="}
	e.mustRun("sessions", "--password-command", "cat "+e.pwFile)
	for _, args := range [][]string{{"sessions", "--password-file", "/dev/zero"}, {"key", "add", "--password-file", e.pwFile, "--new-password-file", "/dev/zero"}} {
		r = e.expectCode(1, args...)
		coreOneLine(t, r.stderr, "/dev/zero", "64 KiB")
	}
}

// TestCLIStaleDefaultPasswordAsks: a default-repository.password that no
// longer opens the default repository (an older init's) is said to be
// wrong, and on a terminal the password is asked for. It exited 12 and
// left no way but deleting the file.
func TestCLIStaleDefaultPasswordAsks(t *testing.T) {
	e := newEnv(t)
	data := filepath.Join(e.dir, "xdg-data")
	e.extraEnv = []string{"XDG_DATA_HOME=" + data, "CABINET_REPOSITORY="}
	e.mustRun("init") // with the env's password file
	pf := filepath.Join(data, "cabinet", "default-repository.password")
	if err := os.WriteFile(pf, []byte("stale\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.extraEnv = append(e.extraEnv, "CABINET_PASSWORD_FILE=")
	// Off a terminal: the wrong password, naming the file.
	r := e.expectCode(12, "sessions")
	coreOneLine(t, r.stderr, "wrong password", pf)
	// On one: asked.
	ptm, pts := openPTY(t)
	cmd := e.command("sessions")
	shown := startOnPTY(t, cmd, ptm, pts)
	waitShown(t, cmd, shown, "repository password:")
	pw, err := os.ReadFile(e.pwFile)
	if err != nil {
		t.Fatal(err)
	}
	ptm.Write(pw)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sessions after typing the right password: %v; shown: %q", err, shown())
	}
	if !strings.Contains(shown(), "does not open") {
		t.Errorf("no word about the kept password: %q", shown())
	}
}
