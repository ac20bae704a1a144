//go:build linux

package mount_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cabinetbackup/cabinet/fs"
	"github.com/cabinetbackup/cabinet/fs/fstest"
	"github.com/cabinetbackup/cabinet/fs/mount"
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// The mount is served by a child process (this test binary re-executed,
// as rclone's vfstest does): using a FUSE mount from the process serving it
// can deadlock (go-fuse fs/api.go, "Deadlocks").
const (
	envServe   = "CABINET_FSTEST_SERVE" // adapter name
	envRepo    = "CABINET_FSTEST_REPO"
	envMount   = "CABINET_FSTEST_MOUNTPOINT"
	envCache   = "CABINET_FSTEST_CACHE"
	envDebug   = "CABINET_FSTEST_DEBUG" // log every request
	readyToken = "cabinet-fstest-ready"
	statsToken = "cabinet-fstest-stats"
)

func TestMain(m *testing.M) {
	if adapter := os.Getenv(envServe); adapter != "" {
		os.Exit(serve(adapter))
	}
	cleanStaleMounts()
	os.Exit(m.Run())
}

// cleanStaleMounts detaches dead cabinet mounts under the temp folder left
// by killed test runs (they answer ENOTCONN); live ones are left alone.
func cleanStaleMounts() {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || !strings.Contains(line, " - fuse.cabinet ") || !strings.HasPrefix(f[4], os.TempDir()) {
			continue
		}
		if _, err := os.ReadDir(f[4]); errors.Is(err, syscall.ENOTCONN) {
			exec.Command("umount", "-l", f[4]).Run()
		}
	}
}

// serve is the child: mount, print the ready token, serve until SIGTERM.
func serve(adapter string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := repo.Open(ctx, local.New(os.Getenv(envRepo)), []byte(fstest.Password), repo.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer r.Close()
	f, err := fs.New(ctx, r, fs.Options{CacheSize: 4 << 20, UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Close()
	// SIGUSR1 prints the request counters, for tests that count requests.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			fmt.Printf("%s %d %d\n", statsToken, f.Stats().Lookups, f.Stats().Readdirs)
		}
	}()
	err = mount.Serve(ctx, f, os.Getenv(envMount), mount.Options{Adapter: adapter,
		Debug: os.Getenv(envDebug) != "", Ready: func() { fmt.Println(readyToken) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	return 0
}

// startServer mounts repoDir at mp in a child process (this test binary,
// see serve) and waits until it is ready.
func startServer(t *testing.T, adapter, repoDir, mp string, env ...string) *fstest.Server {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envServe+"="+adapter, envRepo+"="+repoDir, envMount+"="+mp)
	cmd.Env = append(cmd.Env, env...)
	return fstest.StartServer(t, cmd, mp, readyToken, 20*time.Second)
}

func TestAdapters(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	for _, adapter := range mount.Available() {
		t.Run(adapter, func(t *testing.T) { testAdapter(t, adapter) })
	}
}

func testAdapter(t *testing.T, adapter string) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	fstest.MakeSource(t, src, 7, 5<<20+12345)
	fstest.MakeLargeFolder(t, src)
	dmgDir := filepath.Join(base, "dmg")
	if err := os.MkdirAll(dmgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dmgDir, fstest.DamageFile), bytes.Repeat([]byte("damage me "), 30000), 0o644); err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(base, "repo")
	r := fstest.NewRepo(t, repoDir)
	fstest.Isolate(t, r, filepath.Join(dmgDir, fstest.DamageFile))
	when := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	s := fstest.Backup(t, r, "laptop", snapshot.SourceFiles, when, src, dmgDir)
	fstest.Backup(t, r, "laptop", snapshot.SourceFiles, when.Add(time.Second), src, dmgDir)
	// A third: the suite lists the oldest and the newest, DuLookups the one
	// between.
	fstest.Backup(t, r, "laptop", snapshot.SourceFiles, when.Add(2*time.Second), src, dmgDir)
	fstest.Backup(t, r, "laptop", snapshot.SourcePersona, when, filepath.Join(src, "docs"))
	fstest.Backup(t, r, "desktop", snapshot.SourceFiles, when, filepath.Join(src, "docs"))
	dmg := fstest.FindNode(t, r, s.Tree, filepath.Join(dmgDir, fstest.DamageFile))
	fstest.Corrupt(t, r, repoDir, dmg.Content[0])

	mp := filepath.Join(base, "mnt")
	c := startServer(t, adapter, repoDir, mp)
	fstest.Run(t, fstest.Env{
		Mountpoint: mp,
		Device:     "laptop",
		Source:     src,
		Damaged:    filepath.Join(mp, "laptop", "files", "latest", dmgDir, fstest.DamageFile),
		Large:      true,
		AddSession: func(t *testing.T, when time.Time) string {
			w := fstest.OpenRepo(t, repoDir)
			fstest.Backup(t, w, "laptop", snapshot.SourceFiles, when, src)
			return when.Local().Format(snapshot.TimeLayout)
		},
	})
	t.Run("DamagedLogged", func(t *testing.T) {
		if !strings.Contains(c.Out.String(), fstest.DamageFile) {
			t.Errorf("the mount log does not name %s:\n%s", fstest.DamageFile, c.Out)
		}
	})
	t.Run("PersonaAndDevices", func(t *testing.T) {
		ents, err := os.ReadDir(filepath.Join(mp, "laptop", "persona", "latest"))
		if err != nil || len(ents) != 3 {
			t.Fatalf("persona/latest: %v %v", ents, err)
		}
		if _, err := os.Stat(filepath.Join(mp, "desktop", "files", "latest", src, "docs", "a.txt")); err != nil {
			t.Fatal(err)
		}
	})
	if adapter == mount.GoFuse {
		t.Run("DuLookups", func(t *testing.T) {
			// READDIRPLUS answers du from the listing: no LOOKUP per
			// entry (MOUNT.md: Lookup per entry made find 30x slower).
			session := filepath.Join(mp, "laptop", "files", when.Add(time.Second).Local().Format(snapshot.TimeLayout), src)
			lookups, readdirs, _ := requests(t, c, "du", "-s", session)
			t.Logf("du -s: %d lookups, %d readdirs", lookups, readdirs)
			if lookups > 20 {
				t.Errorf("du -s over %d entries made %d lookups, want only the path's", fstest.ManyCount, lookups)
			}
			if readdirs < 3 {
				t.Errorf("du -s made %d readdirs", readdirs)
			}
		})
	}
	t.Run("SIGTERM", func(t *testing.T) { c.Stop(t) })
}

// requests runs a command on the mount and returns its output and the
// lookups and readdirs the server made meanwhile.
func requests(t *testing.T, c *fstest.Server, name string, args ...string) (lookups, readdirs int64, out string) {
	t.Helper()
	l0, r0 := stats(t, c)
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, b)
	}
	l1, r1 := stats(t, c)
	return l1 - l0, r1 - r0, string(b)
}

// stats asks the server for its counters (SIGUSR1) and returns lookups
// and readdirs.
func stats(t *testing.T, c *fstest.Server) (lookups, readdirs int64) {
	t.Helper()
	n := strings.Count(c.Out.String(), statsToken)
	c.Cmd.Process.Signal(syscall.SIGUSR1)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(c.Out.String(), statsToken) == n {
		if time.Now().After(deadline) {
			t.Fatalf("no stats from the server:\n%s", c.Out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	out := c.Out.String()
	line := out[strings.LastIndex(out, statsToken):]
	line, _, _ = strings.Cut(line, "\n")
	if _, err := fmt.Sscanf(line, statsToken+" %d %d", &lookups, &readdirs); err != nil {
		t.Fatalf("stats line %q: %v", line, err)
	}
	return lookups, readdirs
}

// TestStaleMountpoint: a server killed without unmounting leaves ENOTCONN;
// the next mount cleans it.
func TestStaleMountpoint(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	base := t.TempDir()
	repoDir := filepath.Join(base, "repo")
	r := fstest.NewRepo(t, repoDir)
	src := filepath.Join(base, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	fstest.Backup(t, r, "laptop", snapshot.SourceFiles, time.Now(), src)
	mp := filepath.Join(base, "mnt")
	c := startServer(t, mount.GoFuse, repoDir, mp)
	c.Kill()
	if _, err := os.ReadDir(mp); err == nil {
		data, _ := os.ReadFile("/proc/self/mountinfo")
		t.Skipf("killing the server did not leave a stale mount: %s", data)
	}
	c2 := startServer(t, mount.GoFuse, repoDir, mp)
	if !strings.Contains(c2.Out.String(), "stale") {
		t.Errorf("no word about the stale mount:\n%s", c2.Out)
	}
	if _, err := os.Stat(filepath.Join(mp, "laptop", "files", "latest", src, "f")); err != nil {
		t.Fatal(err)
	}
	c2.Stop(t)
}

// TestListingPolicy: a names-only walk (find) gets listings without the
// files' attributes, and a stat walk (du) that follows switches listings
// back to full after the first folder: du then looks up the files of that
// folder and of the few small folders probed later, not all of them.
func TestListingPolicy(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	const dirs, perDir = 300, 3
	c, session := mountFolders(t, dirs, perDir, func(i int) string { return fmt.Sprintf("d%03d", i) })
	defer c.Stop(t)

	findLookups, _, out := requests(t, c, "find", session, "-type", "f")
	if n := strings.Count(out, "\n"); n != dirs*perDir {
		t.Fatalf("find listed %d files, want %d", n, dirs*perDir)
	}
	duLookups, _, _ := requests(t, c, "du", "-s", session)
	t.Logf("lookups: find %d, du %d", findLookups, duLookups)
	if findLookups > 20 {
		t.Errorf("find made %d lookups, want only the path's", findLookups)
	}
	// Lean listings end at du's first folder: its files, then the files
	// of one small folder probed per probeEvery (32) listings.
	if max := perDir + (dirs/32+1)*perDir + 20; duLookups < perDir || duLookups > int64(max) {
		t.Errorf("du after find made %d lookups, want %d to %d", duLookups, perDir, max)
	}
}

// TestListingRequests counts the kernel's requests of walks over a
// go-fuse mount: no OPENDIR or RELEASEDIR per folder (opendirless), and
// every listing still complete, after a names-only walk as after a stat walk.
func TestListingRequests(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	const dirs, perDir = 40, 2
	c, session := mountFolders(t, dirs, perDir, func(i int) string { return fmt.Sprintf("d%02d/sub", i) }, envDebug+"=1")
	defer c.Stop(t)

	for _, walk := range [][]string{{"find", session, "-type", "f"}, {"du", "-a", session}, {"find", session, "-type", "f"}} {
		before := c.Out.String()
		out, err := exec.Command(walk[0], walk[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", walk, err, out)
		}
		if n := len(regexp.MustCompile(`(?m)/sub/f[0-9]$`).FindAllString(string(out), -1)); n != dirs*perDir {
			t.Errorf("%s lists %d files, want %d", walk, n, dirs*perDir)
		}
		log := strings.TrimPrefix(c.Out.String(), before)
		opendirs, releases, listings := strings.Count(log, " OPENDIR "), strings.Count(log, " RELEASEDIR "), strings.Count(log, " READDIRPLUS ")
		t.Logf("%s: %d OPENDIR, %d RELEASEDIR, %d READDIRPLUS, %d LOOKUP", walk[:2], opendirs, releases, listings, strings.Count(log, " LOOKUP "))
		if opendirs > 1 || releases > 0 {
			t.Errorf("%s: %d OPENDIR and %d RELEASEDIR requests for %d folders, want at most the kernel's first OPENDIR", walk[:2], opendirs, releases, 2*dirs)
		}
	}
}

// mountFolders backs up dirs folders (named by folder) of perDir one-byte
// files f0, f1, ... and mounts the repository with go-fuse; it returns the
// server and the session's copy of the tree.
func mountFolders(t *testing.T, dirs, perDir int, folder func(i int) string, env ...string) (*fstest.Server, string) {
	t.Helper()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	for i := range dirs {
		d := filepath.Join(src, folder(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range perDir {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", j)), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	repoDir := filepath.Join(base, "repo")
	r := fstest.NewRepo(t, repoDir)
	fstest.Backup(t, r, "laptop", snapshot.SourceFiles, time.Now(), src)
	mp := filepath.Join(base, "mnt")
	c := startServer(t, mount.GoFuse, repoDir, mp, env...)
	return c, filepath.Join(mp, "laptop", "files", "latest", src)
}

// TestInterleavedListings: two programs listing one folder at once, with
// different buffer sizes, each get every entry. With one go-fuse handle
// shared, a request inside the other program's last reply was replayed
// from it, and the program with the smaller buffer lost a range of
// entries.
func TestInterleavedListings(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	const perDir = 3000
	c, session := mountFolders(t, 1, perDir, func(int) string { return "big" })
	defer c.Stop(t)
	dir := filepath.Join(session, "big")
	// Each lister on its own thread, as two programs would be.
	onThread := func(f func()) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			f()
		}()
		<-done
	}
	lister := func(size int) (read func(batches int) int, close func()) {
		var fd int
		var err error
		onThread(func() { fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0) })
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, size)
		read = func(batches int) int {
			n := 0
			onThread(func() {
				for i := 0; batches < 0 || i < batches; i++ {
					got, err := unix.Getdents(fd, buf)
					if err != nil {
						t.Error(err)
						return
					}
					if got == 0 {
						return
					}
					_, entries, _ := unix.ParseDirent(buf[:got], -1, nil) // leaves out . and ..
					n += entries
				}
			})
			return n
		}
		return read, func() { unix.Close(fd) }
	}
	readA, closeA := lister(1 << 10)
	defer closeA()
	readB, closeB := lister(64 << 10)
	defer closeB()
	a := readA(1)
	b := readB(1)
	a += readA(-1)
	b += readB(-1)
	if a != perDir || b != perDir {
		t.Errorf("listed %d and %d entries side by side, want %d each", a, b, perDir)
	}
}
