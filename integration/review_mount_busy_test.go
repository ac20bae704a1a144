//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/fs/fstest"
)

// reviewMount runs 'cabinet mount args... mp' and returns once it says it
// is mounted, with its output and a channel closed when it has exited.
// The mount point gets a lazy unmount when the test ends.
func reviewMount(t *testing.T, e *env, mp string, args ...string) (*exec.Cmd, *fstest.Output, <-chan struct{}) {
	t.Helper()
	cmd := e.command(append(append([]string{"mount"}, args...), mp)...)
	out := &fstest.Output{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		exec.Command("umount", "-l", mp).Run()
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "mounted at") {
		select {
		case <-exited:
			t.Fatalf("mount exited: %s", out)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mount not ready: %s", out)
		}
	}
	return cmd, out, exited
}

// TestReviewMountBusyInterrupt: Ctrl-C while a program is inside the mount
// (a shell cd'ed into it, a copy running) detaches the mount, goes on
// serving that program, and says so truthfully; a second Ctrl-C ends the
// mount at once. Before, the second and every later Ctrl-C or SIGTERM was
// swallowed and the command hung until the program left, while its
// message claimed the program already got errors.
func TestReviewMountBusyInterrupt(t *testing.T) {
	mountRequire(t)
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("still here\n"), 0o644)
	mountBackup(t, e, src)
	mp := filepath.Join(e.dir, "mnt")
	cmd, out, exited := reviewMount(t, e, mp)
	inside := filepath.Join(mp, "testdevice", "files", "latest", src)

	// A program that stays inside the mount and holds a file open.
	holder := exec.Command("sh", "-c", "exec 3<f; sleep 60")
	holder.Dir = inside
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	time.Sleep(300 * time.Millisecond)

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	select {
	case <-exited:
		t.Fatalf("the mount ended at the first Ctrl-C while a program was inside it:\n%s", out)
	default:
	}
	// The program inside is still served.
	cwd := filepath.Join("/proc", strconv.Itoa(holder.Process.Pid), "cwd", "f")
	if data, err := os.ReadFile(cwd); err != nil || string(data) != "still here\n" {
		t.Errorf("the program inside the detached mount reads %q, %v", data, err)
	}
	if s := out.String(); !strings.Contains(s, "served until they leave") || !strings.Contains(s, "Ctrl-C again") {
		t.Errorf("after the first Ctrl-C the mount says:\n%s\nwant that it serves the programs inside until they leave, and that Ctrl-C again ends it", s)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("the mount still runs 5 s after a second Ctrl-C (a program is inside it):\n%s", out)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after two Ctrl-C, want 0:\n%s", code, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(l, "cabinet: ") {
			t.Errorf("output line %q does not start with cabinet:", l)
		}
	}
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), " "+mp+" ") {
		t.Errorf("%s still mounted", mp)
	}
}
