package main

import (
	"fmt"
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cabinetbackup/cabinet/engine"
	"github.com/cabinetbackup/cabinet/internal/memlimit"
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/snapshot"
)

func newBackupCommand() *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     "back up files and folders as a new session",
		ArgsUsage: "PATH...",
		Description: `Backs up the named paths as one session of this device. Files whose
size, times, mode and inode match the register (a local cache of the last
session) are not read again. Unreadable files are reported as warnings;
the session then completes "with warnings" and the exit code is 3.

Examples:
  cabinet backup --tag daily --exclude '*.tmp' ~/Documents ~/Pictures
  cabinet backup --one-file-system --exclude-caches --exclude-file ~/.cabinet-excludes /

` + exitCodesHelp,
		Flags: []cli.Flag{
			deviceFlag(),
			&cli.StringSliceFlag{Name: "tag", Usage: "add `TAG` to the session (repeatable)"},
			patternsFlag("exclude", "e", "skip paths matching `PATTERN` (repeatable; '*.tmp' matches any name, '/home/*/.cache' a path from the root, 'src/**/*.o' at any depth)"),
			&cli.StringSliceFlag{Name: "exclude-file", KeepSpace: true, Usage: "read exclude patterns from `FILE`, one a line; blank lines and lines starting with # are ignored (repeatable)"},
			&cli.BoolFlag{Name: "exclude-caches", Usage: "leave out the content of folders holding a CACHEDIR.TAG with its signature (the tag is kept)"},
			&cli.BoolFlag{Name: "one-file-system", Aliases: []string{"x"}, Usage: "do not cross into other file systems mounted below a backup path (their mount points are kept as empty folders)"},
			&cli.StringSliceFlag{Name: "priority", KeepSpace: true, Usage: "back up paths matching `PATTERN` first (repeatable, in order)"},
			&cli.IntFlag{Name: "connections", Value: 2, Usage: "cabinets written at once, `N` from 1 to 10"},
			limitUploadFlag(),
			&cli.BoolFlag{Name: "force", Usage: "read every file and check every folder against the index, trusting nothing the register remembers (after 'cabinet check' reports a damaged index file)"},
			&cli.IntFlag{Name: "readers", Usage: "files read at once (default 8)", Hidden: true},
		},
		Action: runBackup,
	}
}

func runBackup(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("backup needs at least one PATH")
	}
	if c.Int("limit-upload") < 0 {
		return usagef("--limit-upload wants KiB a second, more than 0")
	}
	tags, err := sessionTags(c)
	if err != nil {
		return err
	}
	excludes := patterns(c, "exclude")
	for _, f := range c.StringSlice("exclude-file") {
		patterns, err := readPatternFile(f)
		if err != nil {
			return err
		}
		excludes = append(excludes, patterns...)
	}
	// One slice worker per core, but twice as many Go processors: a walker
	// or reader blocked in a cold system call keeps its processor until the
	// runtime takes it back, and with one per core the cores sat 25 % idle
	// while Go's scheduler had work queued (full corpus: 14.4 -> 12.0 s,
	// mean of 3). Where the engine reads small files ahead (Linux), readers
	// seldom block, and processing goes back to one processor per core.
	// (Raised after the repository is open, which sizes its compressors by
	// GOMAXPROCS: two workers need two.)
	cores := runtime.GOMAXPROCS(0)
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	raised := os.Getenv("GOMAXPROCS") == ""
	if raised {
		runtime.GOMAXPROCS(2 * cores)
	}
	if os.Getenv("GOGC") == "" {
		// The collector runs only when the soft memory limit is reached:
		// 24 MiB, or the live heap plus an eighth of it (at least 16 MiB)
		// once it is large (memlimit). At GOGC 100 it ran whenever a small
		// heap doubled: a cold no-change backup of the corpus, whose live
		// heap stays at 1-2 MiB (trees are written as folders are
		// scanned), collected 70 times in 0.6 s and took 0.60-0.67 s; now
		// 0.54-0.56 s at 48 instead of 44 MiB peak RSS (six interleaved
		// rounds; a floor of 48 MiB was no faster at 64 MiB). The deep
		// scale tree's no-change backup: 5.9 -> 4.7 s, 59 -> 75 MiB. Large
		// heaps were held by the limit already: an eighth of the live
		// heap, not the mount's quarter, took a 1M-file initial backup
		// from 122-127 MiB to 118-120 MiB, no slower.
		const floor = 24 << 20
		debug.SetMemoryLimit(floor) // before the collector is off: Tune sets it from its own goroutine
		debug.SetGCPercent(-1)
		tuned := make(chan struct{})
		defer close(tuned)
		go memlimit.Tune(floor, 16<<20, 8, 100*time.Millisecond, tuned)
	}
	if n := c.Int("connections"); n < 1 || n > 10 {
		return usagef("--connections wants a number from 1 to 10")
	}
	r.SetConnections(c.Int("connections"))
	jsonOut := flagBool(c, "json")
	pv := newProgressView(flagBool(c, "quiet") || (jsonOut && !isTerminal()))
	s, err := engine.Backup(c.Context, r, engine.BackupOptions{
		Device:        deviceName(c),
		Paths:         c.Args().Slice(),
		Tags:          tags,
		Excludes:      excludes,
		ExcludeCaches: c.Bool("exclude-caches"),
		OneFileSystem: c.Bool("one-file-system"),
		Priority:      c.StringSlice("priority"),
		User:          currentUserName(),
		RegisterDir:   r.CacheDir(),
		LockDir:       cacheDir(c),
		Force:         c.Bool("force"),
		Readers:       c.Int("readers"),
		Workers:       cores,
		Warn:          warnPrinter(""),
		Processing: func() {
			if raised && engine.ReadsAhead {
				runtime.GOMAXPROCS(cores)
			}
		},
		Progress: func(p engine.Progress) {
			switch p.Stage {
			case engine.StageScanning:
				pv.update(fmt.Sprintf("scanning: %d files", p.FilesScanned), p.BytesScanned, -1) // the total is not known yet
				return
			case engine.StagePaused:
				pv.update(fmt.Sprintf("%d/%d files, paused while a restore runs", p.FilesDone, p.FilesTotal), p.BytesDone, p.BytesTotal)
				return
			}
			pv.update(fmt.Sprintf("%d/%d files", p.FilesDone, p.FilesTotal), p.BytesDone, p.BytesTotal)
		},
		ProgressEvery: 200 * time.Millisecond,
	})
	pv.finish()
	if err != nil {
		return err
	}
	name := savedTimeName(c, r, s)
	if jsonOut {
		out := sessionJSON(s, time.Local)
		out["time_name"] = name
		if err := printJSON(out); err != nil {
			return err
		}
	} else {
		sm := s.Summary
		fmt.Printf("session %s of %s saved (%s)\n", s.ShortID(), s.Device, name)
		fmt.Printf("files: %d new, %d changed, %d unchanged; %s read, %s added to the repository in %.1fs\n",
			sm.FilesNew, sm.FilesChanged, sm.FilesUnchanged, humanBytes(sm.BytesRead), humanBytes(sm.BytesAdded), sm.DurationSecs)
	}
	if s.Status == snapshot.StatusCompletedWithWarnings {
		fmt.Fprintf(os.Stderr, "cabinet: session completed with %s (see above)\n", plural(s.Summary.Warnings, "warning"))
		return errWarnings
	}
	return nil
}

// savedTimeName is the time name of the session just saved as 'cabinet
// sessions' and the mount show it: named among the sessions of its device
// and data source, it has " (2)" when another one began in the same
// second. (Formatting its time alone led to that other session.)
func savedTimeName(c *cli.Context, r *repo.Repository, s *snapshot.Session) string {
	name := s.Time.In(time.Local).Format(snapshot.TimeLayout)
	ss, err := snapshot.ListSessions(c.Context, r, s.Device, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "warning: list the sessions of %s to name this one: %v\n", s.Device, err)
		return name
	}
	for i, n := range snapshot.GroupTimeNames(ss, time.Local) {
		if ss[i].ID() == s.ID() {
			return n
		}
	}
	return name
}

func currentUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// sessionJSON is the JSON form of a session shown by backup and sessions.
func sessionJSON(s *snapshot.Session, loc *time.Location) map[string]any {
	return map[string]any{
		"id": s.ID(), "short_id": s.ShortID(), "device": s.Device, "user": s.User, "hostname": s.Hostname,
		"os": s.OS, "arch": s.Arch, "source": s.Source, "time": s.Time, "time_name": s.Time.In(loc).Format(snapshot.TimeLayout),
		"paths": orEmpty(s.Paths), "tags": orEmpty(s.Tags), "parent": s.Parent, "status": s.Status, "archived": s.Archived,
		"tree": s.Tree.String(), "summary": s.Summary,
	}
}

// orEmpty is list, or an empty list for none: scripts iterate over a JSON
// list ("jq '.tags[]'"), which null breaks.
func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// readPatternFile reads patterns from a file, one a line: blank lines and
// lines starting with # are left out, and spaces around a pattern trimmed.
func readPatternFile(name string) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("exclude file: %w", err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	return patterns, nil
}
