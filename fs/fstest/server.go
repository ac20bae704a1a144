//go:build unix

package fstest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a mount served by another process: the cabinet binary, or a
// test binary run again as a server. Using a FUSE mount from the process
// that serves it can deadlock (go-fuse fs/api.go, "Deadlocks").
type Server struct {
	Cmd        *exec.Cmd
	Mountpoint string
	Out        *Output // the process's stdout and stderr
	done       chan struct{}
	err        error
}

// Output collects a process's output; tests read it while it grows.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// StartServer starts cmd, which mounts at mountpoint, and returns once its
// output holds ready. When the test ends a server still running gets
// SIGTERM (then SIGKILL after 10 s) and the mount point a lazy unmount, in
// case the server died mounted.
func StartServer(t testing.TB, cmd *exec.Cmd, mountpoint, ready string, timeout time.Duration) *Server {
	t.Helper()
	s := &Server{Cmd: cmd, Mountpoint: mountpoint, Out: &Output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.Out, s.Out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-s.done
			}
		}
		exec.Command("umount", "-l", mountpoint).Run()
	})
	deadline := time.After(timeout)
	for !strings.Contains(s.Out.String(), ready) {
		select {
		case <-s.done:
			t.Fatalf("mount server exited: %v\n%s", s.err, s.Out)
		case <-deadline:
			t.Fatalf("mount not ready after %v:\n%s", timeout, s.Out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Logf("mount ready after %v", time.Since(start))
	return s
}

// Kill ends the server with SIGKILL, leaving its mount behind (stale).
func (s *Server) Kill() {
	s.Cmd.Process.Kill()
	<-s.done
}

// Stop sends SIGTERM and wants exit status 0, the mount gone, and no
// complaint from the unmount (libfuse's "failed to unmount").
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("mount server still running 15s after SIGTERM:\n%s", s.Out)
	}
	if s.err != nil {
		t.Fatalf("mount server exited with %v after SIGTERM (want 0):\n%s", s.err, s.Out)
	}
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), " "+s.Mountpoint+" ") {
		t.Fatalf("%s still mounted after the server exited", s.Mountpoint)
	}
	if out := s.Out.String(); strings.Contains(out, "failed to unmount") {
		t.Fatalf("the unmount complained after SIGTERM:\n%s", out)
	}
}
