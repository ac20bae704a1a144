package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cabinetbackup/cabinet/fs"
	"github.com/cabinetbackup/cabinet/fs/mount"
)

func newMountCommand() *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "show every session as a read-only folder",
		ArgsUsage: "MOUNTPOINT",
		Description: `Mounts the repository read-only at MOUNTPOINT and stays in the foreground
until it is unmounted (umount, fusermount3 -u, eject) or interrupted
(Ctrl-C or SIGTERM unmount cleanly; with --json it prints
{"mountpoint": ..., "adapter": ...} once it serves). The tree:

  MOUNTPOINT/<device>/files/<session time>/<backed-up absolute paths>
  MOUNTPOINT/<device>/files/latest      the newest session
  MOUNTPOINT/<device>/persona/<session time>/manifest.json ...
  MOUNTPOINT/<device>/persona/latest

Session times are local, e.g. "2026-11-21 10.30.05" (" (2)" for a second
session in the same second). latest is a symlink (a folder on Windows).
Sessions backed up while mounted appear within a few seconds.

Adapters: go-fuse (Linux, macOS with macFUSE; the default there) and
cgofuse (Windows with WinFsp, the default there; on Linux only in builds
made with -tags cgofuse after apt-get install libfuse-dev).
On Windows MOUNTPOINT is a drive letter (X:), * for a free one, or a
folder that does not exist yet. A stale mount left by a crash is detached.

Examples:
  cabinet mount ~/cabinet
  cabinet mount --device laptop --cache-size 256MiB /mnt/cabinet
  cabinet mount X:

` + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "device", Usage: "show only device `NAME`"},
			&cli.StringFlag{Name: "adapter", Value: mount.DefaultAdapter(), Usage: "FUSE `ADAPTER`: go-fuse or cgofuse"},
			&cli.StringFlag{Name: "cache-size", Value: "32MiB", Usage: "memory for decoded file content, `SIZE` (e.g. 64MiB, 1GiB)"},
			&cli.BoolFlag{Name: "debug", Usage: "log every file system request"},
		},
		Action: runMount,
	}
}

// mountOptions are the mount command's settings.
type mountOptions struct {
	mountpoint string
	device     string
	adapter    string
	cacheSize  int64
	debug      bool
}

func runMount(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("mount needs exactly one MOUNTPOINT")
	}
	o := mountOptions{mountpoint: c.Args().First(), device: c.String("device"), adapter: c.String("adapter"), debug: c.Bool("debug")}
	var err error
	if o.cacheSize, err = parseMountSize(c.String("cache-size")); err != nil {
		return usagef("--cache-size: %v", err)
	}
	switch o.adapter {
	case mount.GoFuse, mount.Cgofuse:
	default:
		return usagef("--adapter %q: use %s or %s", o.adapter, mount.GoFuse, mount.Cgofuse)
	}
	// Before asking for a password: say at once if this build lacks it.
	if err := mount.Check(o.adapter); err != nil {
		return err
	}
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	uid, gid := os.Getuid(), os.Getgid()
	f, err := fs.New(c.Context, r, fs.Options{
		Device:      o.device,
		CacheSize:   o.cacheSize,
		LatestAsDir: runtime.GOOS == "windows",
		UID:         uint32(max(uid, 0)),
		GID:         uint32(max(gid, 0)),
		Logf:        func(format string, args ...any) { fmt.Fprintf(os.Stderr, "cabinet: "+format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	defer f.Close()
	if o.device != "" {
		if devices, err := r.Devices(c.Context); err == nil && !slices.Contains(devices, o.device) {
			fmt.Fprintf(os.Stderr, "cabinet: device %q has no sessions yet (devices: %s); its folder stays empty until it backs up\n",
				o.device, strings.Join(devices, ", "))
		}
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// Twice as many processors as cores: go-fuse keeps up to one
		// reader a processor blocked in read(2) on /dev/fuse, and with no
		// processor idle the runtime's monitor takes theirs back every
		// 20 µs, waking threads to do it: a fifth of the mount's CPU on a
		// cold du over the corpus. du -sb 0.95-1.11 s, mount CPU 0.52-0.72 s;
		// now 0.85-0.94 s and 0.42-0.49 s (five rounds each).
		runtime.GOMAXPROCS(2 * runtime.GOMAXPROCS(0))
	}
	if os.Getenv("GOGC") == "" {
		// The soft memory limit below (fs/mount) bounds the heap; at main's
		// GOGC 25 a cold find over 78,000 files spent a third of the
		// daemon's CPU collecting (find 1.5 -> 1.3 s at 100).
		debug.SetGCPercent(100)
	}
	return mount.Serve(c.Context, f, o.mountpoint, mount.Options{
		Adapter: o.adapter,
		Debug:   o.debug,
		// The decoded-slice cache is most of the heap: let the collector
		// start when the heap is 48 MiB above it, or (fs/mount) 32 MiB
		// above what survived the last collection, if more.
		MemoryLimit: o.cacheSize + 48<<20,
		Logf:        func(format string, args ...any) { fmt.Fprintf(os.Stderr, "cabinet: "+format+"\n", args...) },
		Ready: func() {
			if flagBool(c, "json") {
				// Scripts wait for this line: the mount serves from now on.
				mp, err := filepath.Abs(o.mountpoint)
				if err != nil {
					mp = o.mountpoint
				}
				printJSON(map[string]any{"mountpoint": mp, "adapter": o.adapter})
			}
			if !flagBool(c, "quiet") {
				fmt.Fprintf(os.Stderr, "cabinet: mounted at %s (%s); press Ctrl-C or unmount it to stop\n", o.mountpoint, o.adapter)
			}
		},
	})
}

// parseMountSize reads a size such as 64MiB, 1GiB, 500MB or 1048576.
func parseMountSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToLower(t), strings.ToLower(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	v := n * float64(mult)
	// Also refuses NaN, Inf and what int64 cannot hold (1e30 became a
	// negative size, silently replaced by the default).
	if err != nil || !(v >= 1 && v <= maxMountSize) {
		return 0, fmt.Errorf("%q is not a size such as 64MiB (1 byte to 1TiB)", s)
	}
	return int64(v), nil
}

// maxMountSize is the largest --cache-size.
const maxMountSize = 1 << 40
