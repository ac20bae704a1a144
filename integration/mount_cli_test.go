//go:build linux

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/fs/fstest"
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
func startMount(t *testing.T, e *env, bin, mp string, args ...string) *fstest.Server {
	t.Helper()
	cmd := e.command(append([]string{"mount"}, append(args, mp)...)...)
	cmd.Path = bin
	cmd.Args[0] = bin
	return fstest.StartServer(t, cmd, mp, "mounted at", 30*time.Second)
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
	ctx := t.Context()
	r := e.openRepo(t)
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
				if !strings.Contains(s.Out.String(), fstest.DamageFile) {
					t.Errorf("the mount's log does not name %s:\n%s", fstest.DamageFile, s.Out)
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
			t.Run("SIGTERM", func(t *testing.T) { s.Stop(t) })
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
	s.Stop(t)
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
	s.Kill()
	s2 := startMount(t, e, cabinetBin, mp)
	if _, err := os.Stat(filepath.Join(mp, "testdevice", "files", "latest", src, "f")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s2.Out.String(), "stale") {
		t.Logf("no word about a stale mount (the kill may have unmounted):\n%s", s2.Out)
	}
	s2.Stop(t)
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
	s.Stop(t)
}
