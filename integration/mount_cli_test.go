//go:build linux

package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/fs/fstest"
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// Real mounts of the real binary, for each adapter: go-fuse always;
// cgofuse when the binary under test has it, or when the tests run with
// -tags cgofuse (then a second binary is built with that tag, or taken from
// $CABINET_BIN_CGOFUSE). They run the same conformance suite as the
// fs/mount tests (fs/fstest.Run).

var (
	mountCgoOnce sync.Once
	mountCgoBin  string
	mountCgoErr  error
)

// mountHasAdapter reports whether bin has adapter built in: without it,
// mount refuses at once with a hint, before opening any repository.
func mountHasAdapter(t *testing.T, bin, adapter string) bool {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, "mount", "--adapter", adapter, filepath.Join(dir, "mnt"))
	cmd.Env = append(os.Environ(), "CABINET_REPOSITORY="+filepath.Join(dir, "none"), "CABINET_PASSWORD_FILE="+filepath.Join(dir, "none"))
	out, _ := cmd.CombinedOutput()
	return !strings.Contains(string(out), "-tags cgofuse")
}

// mountAdapters lists the adapters to test: go-fuse, and cgofuse when the
// binary under test has it ($CABINET_BIN built with -tags cgofuse, as make
// integration does) or these tests run with -tags cgofuse.
func mountAdapters(t *testing.T) []string {
	if mountHasAdapter(t, cabinetBin, "cgofuse") || mountTagCgofuse {
		return []string{"go-fuse", "cgofuse"}
	}
	return []string{"go-fuse"}
}

// mountBinary returns the binary to mount with adapter.
func mountBinary(t *testing.T, adapter string) string {
	t.Helper()
	if adapter != "cgofuse" || mountHasAdapter(t, cabinetBin, adapter) {
		return cabinetBin
	}
	mountCgoOnce.Do(func() {
		if mountCgoBin = os.Getenv("CABINET_BIN_CGOFUSE"); mountCgoBin != "" {
			return
		}
		dir, err := os.MkdirTemp("", "cabinet-cgofuse-bin-")
		if err != nil {
			mountCgoErr = err
			return
		}
		mountCgoBin = filepath.Join(dir, "cabinet")
		out, err := exec.Command("go", "build", "-tags", "cgofuse", "-o", mountCgoBin, "../cmd/cabinet").CombinedOutput()
		if err != nil {
			mountCgoErr = err
			mountCgoBin = string(out)
		}
	})
	if mountCgoErr != nil {
		t.Fatalf("build with -tags cgofuse: %v\n%s", mountCgoErr, mountCgoBin)
	}
	return mountCgoBin
}

// mountServer is a running 'cabinet mount'.
type mountServer struct {
	cmd  *exec.Cmd
	mp   string
	out  *mountOutput
	done chan struct{}
	err  error
}

type mountOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *mountOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *mountOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// mountRequire skips without FUSE or without the mount command.
func mountRequire(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	out, _ := exec.Command(cabinetBin, "mount", "--help").CombinedOutput()
	if !strings.Contains(string(out), "MOUNTPOINT") {
		t.Skip("this cabinet has no mount command yet (newMountCommand() is not registered in cmd/cabinet/main.go)")
	}
}

// startMount runs 'cabinet mount' with args and waits until it is ready.
func startMount(t *testing.T, e *env, bin, mp string, args ...string) *mountServer {
	t.Helper()
	cmd := e.command(append([]string{"mount"}, append(args, mp)...)...)
	cmd.Path = bin
	cmd.Args[0] = bin
	s := &mountServer{cmd: cmd, mp: mp, out: &mountOutput{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
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
		exec.Command("umount", "-l", mp).Run() // only matters if the server died mounted
	})
	deadline := time.After(30 * time.Second)
	for !strings.Contains(s.out.String(), "mounted at") {
		select {
		case <-s.done:
			t.Fatalf("cabinet mount exited: %v\n%s", s.err, s.out)
		case <-deadline:
			t.Fatalf("cabinet mount not ready after 30s:\n%s", s.out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Logf("mount ready after %v", time.Since(start))
	return s
}

// stop sends SIGTERM and wants exit 0 and the mount gone.
func (s *mountServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("cabinet mount still running 15s after SIGTERM:\n%s", s.out)
	}
	if s.err != nil {
		t.Fatalf("cabinet mount exited with %v after SIGTERM (want 0):\n%s", s.err, s.out)
	}
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), " "+s.mp+" ") {
		t.Fatalf("%s still mounted after cabinet mount exited", s.mp)
	}
}

// mountBackup runs backup --json and returns the session's folder name
// (time_name from sessions --json: it has the " (2)" suffix when needed).
func mountBackup(t *testing.T, e *env, paths ...string) string {
	t.Helper()
	r := e.mustRun(append([]string{"backup", "--json"}, paths...)...)
	var s struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("backup --json: %v\n%s", err, r)
	}
	r = e.mustRun("sessions", "--json")
	var ss []struct {
		ID       string `json:"id"`
		TimeName string `json:"time_name"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ss); err != nil {
		t.Fatalf("sessions --json: %v\n%s", err, r)
	}
	for _, x := range ss {
		if x.ID == s.ID && x.TimeName != "" {
			return x.TimeName
		}
	}
	t.Fatalf("session %s not in sessions --json:\n%s", s.ID, r)
	return ""
}

// mountCorrupt damages the first slice of the file at path (absolute, as
// backed up) in the newest session of device.
func mountCorrupt(t *testing.T, e *env, device, path string) {
	t.Helper()
	pw, err := os.ReadFile(e.pwFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	r, err := repo.Open(ctx, local.New(e.repo), bytes.TrimSpace(pw), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	ss, err := snapshot.ListSessions(ctx, r, device, nil)
	if err != nil || len(ss) == 0 {
		t.Fatalf("sessions: %v", err)
	}
	n := fstest.FindNode(t, r, ss[len(ss)-1].Tree, path)
	if len(n.Content) == 0 {
		t.Fatalf("%s has no content", path)
	}
	var id blob.ID = n.Content[0]
	fstest.Corrupt(t, r, e.repo, id)
}

func TestMountCLI(t *testing.T) {
	mountRequire(t)
	for _, adapter := range mountAdapters(t) {
		t.Run(adapter, func(t *testing.T) {
			bin := mountBinary(t, adapter)
			e := newEnv(t)
			src := filepath.Join(e.dir, "src")
			fstest.MakeSource(t, src, 11, 6<<20+777)
			dmg := filepath.Join(e.dir, "dmg")
			coreWrite(t, filepath.Join(dmg, fstest.DamageFile), coreRandom(5, 300<<10), 0o644)
			mountBackup(t, e, src, dmg)
			time.Sleep(1100 * time.Millisecond) // two sessions, two names
			mountBackup(t, e, src, dmg)
			mountCorrupt(t, e, "testdevice", filepath.Join(dmg, fstest.DamageFile))

			mp := filepath.Join(e.dir, "mnt")
			s := startMount(t, e, bin, mp, "--adapter", adapter)
			fstest.Run(t, fstest.Env{
				Mountpoint: mp,
				Device:     "testdevice",
				Source:     src,
				Damaged:    filepath.Join(mp, "testdevice", "files", "latest", dmg, fstest.DamageFile),
				AddSession: func(t *testing.T, _ time.Time) string { return mountBackup(t, e, src) },
			})
			t.Run("DamagedLogged", func(t *testing.T) {
				if !strings.Contains(s.out.String(), fstest.DamageFile) {
					t.Errorf("the mount's log does not name %s:\n%s", fstest.DamageFile, s.out)
				}
			})
			t.Run("Check", func(t *testing.T) {
				// The mount wrote nothing: check still finds only the
				// slice damaged on purpose.
				r := e.run("check")
				if r.code != 0 && !strings.Contains(r.stdout+r.stderr, "damaged") {
					t.Errorf("check after mount: %s", r)
				}
			})
			t.Run("SIGTERM", func(t *testing.T) { s.stop(t) })
		})
	}
}

// TestMountDeviceFilter: --device shows only that device.
func TestMountDeviceFilter(t *testing.T) {
	mountRequire(t)
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("x"), 0o644)
	mountBackup(t, e, src)
	other := *e
	other.extraEnv = append(other.extraEnv, "CABINET_DEVICE=other")
	mountBackup(t, &other, src)
	mp := filepath.Join(e.dir, "mnt")
	s := startMount(t, e, cabinetBin, mp, "--device", "other")
	ents, err := os.ReadDir(mp)
	if err != nil || len(ents) != 1 || ents[0].Name() != "other" {
		t.Fatalf("mount --device other lists %v (%v)", ents, err)
	}
	if _, err := os.Stat(filepath.Join(mp, "other", "files", "latest", src, "f")); err != nil {
		t.Fatal(err)
	}
	s.stop(t)
}

// TestMountStaleMountpoint: a killed mount leaves a dead mount point; the
// next mount detaches it and says so.
func TestMountStaleMountpoint(t *testing.T) {
	mountRequire(t)
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f"), []byte("x"), 0o644)
	mountBackup(t, e, src)
	mp := filepath.Join(e.dir, "mnt")
	s := startMount(t, e, cabinetBin, mp)
	s.cmd.Process.Kill()
	<-s.done
	s2 := startMount(t, e, cabinetBin, mp)
	if _, err := os.Stat(filepath.Join(mp, "testdevice", "files", "latest", src, "f")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s2.out.String(), "stale") {
		t.Logf("no word about a stale mount (the kill may have unmounted):\n%s", s2.out)
	}
	s2.stop(t)
}

// TestMountUsage: bad arguments exit 2; an adapter this build lacks says
// how to get it.
func TestMountUsage(t *testing.T) {
	mountRequire(t)
	e := newEnv(t)
	e.expectCode(2, "mount")
	e.expectCode(2, "mount", "--adapter", "nope", filepath.Join(e.dir, "m"))
	if !mountHasAdapter(t, cabinetBin, "cgofuse") {
		r := e.run("mount", "--adapter", "cgofuse", filepath.Join(e.dir, "m"))
		if r.code == 0 || !strings.Contains(r.stderr, "-tags cgofuse") {
			t.Errorf("--adapter cgofuse without the tag: %s", r)
		}
	}
}

// TestMountPersona: a persona session's folder is the persona itself,
// manifest.json at its top.
func TestMountPersona(t *testing.T) {
	mountRequire(t)
	e := newEnv(t)
	home := filepath.Join(e.dir, "home")
	coreWrite(t, filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = Test\n"), 0o644)
	coreWrite(t, filepath.Join(home, ".bashrc"), []byte("alias ll='ls -l'\n"), 0o644)
	if r := e.run("persona", "capture", "--home", home); r.code != 0 && r.code != 3 {
		t.Fatalf("persona capture: %s", r)
	}
	mp := filepath.Join(e.dir, "mnt")
	s := startMount(t, e, cabinetBin, mp)
	names, err := os.ReadDir(filepath.Join(mp, "testdevice", "persona"))
	if err != nil || len(names) != 2 || !fstest.SessionName.MatchString(names[0].Name()) || names[1].Name() != "latest" {
		t.Fatalf("persona/ lists %v (%v)", names, err)
	}
	data, err := os.ReadFile(filepath.Join(mp, "testdevice", "persona", "latest", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Errorf("persona/latest/manifest.json is not JSON: %.200s", data)
	}
	if ents, _ := os.ReadDir(filepath.Join(mp, "testdevice", "files")); len(ents) != 0 {
		t.Errorf("files/ of a device with only a persona lists %v", ents)
	}
	s.stop(t)
}
