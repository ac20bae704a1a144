package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cabinetbackup/cabinet/engine"
	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/snapshot"
)

func newRestoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a session, or part of it",
		ArgsUsage: "SESSION",
		Description: `Restores SESSION ('latest', an ID prefix, or a time as 'cabinet sessions'
shows it, e.g. "2026-11-21 10.30.05") below --target, where the backed-up
absolute paths are recreated (/home/ann/x goes to TARGET/home/ann/x).
Without --target, files go back to their original locations. Each device
names its own sessions: where two devices back up in the same second, a
time names a session of each, and --device picks one.

Example:
  cabinet restore --target /tmp/r --include '/home/ann/Documents' latest

` + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "device", Usage: "pick the session among those of device `NAME` (default: all devices)"},
			&cli.StringFlag{Name: "target", Aliases: []string{"t"}, Usage: "restore below `DIR` (default: the original locations)"},
			patternsFlag("include", "i", "restore only paths matching `PATTERN` (repeatable)"),
			patternsFlag("exclude", "e", "skip paths matching `PATTERN` (repeatable)"),
			&cli.StringFlag{Name: "overwrite", Value: engine.OverwriteIfChanged, Usage: "what to do with existing files, `MODE`: never, if-changed (restore those that differ) or always"},
			&cli.BoolFlag{Name: "verify", Usage: "re-read every restored file and compare it with the repository"},
			&cli.StringFlag{Name: "source", Value: snapshot.SourceFiles, Usage: "data `SOURCE` of the session: files or persona"},
		},
		Action: runRestore,
	}
}

// findSession resolves a SESSION argument among the sessions of a device
// (all devices when device is "") and data source.
func findSession(c *cli.Context, r *repo.Repository, device, source, spec string) (*snapshot.Session, error) {
	ss, err := snapshot.ListSessions(c.Context, r, device, func(err error) {
		fmt.Fprintln(os.Stderr, "warning:", err)
	})
	if err != nil {
		return nil, err
	}
	var picked []*snapshot.Session
	for _, s := range ss {
		if source == "" || s.Source == source {
			picked = append(picked, s)
		}
	}
	found, err := snapshot.Find(picked, spec, time.Local)
	var ae *snapshot.AmbiguousError
	if errors.As(err, &ae) {
		// Each device (and source) names its sessions on its own: the
		// same time name can be one of each.
		what := fmt.Sprintf("session time %q names", spec)
		if spec == "latest" {
			what = `"latest" is among`
		}
		if ae.Devices() {
			return nil, usagef("%s sessions of several devices (%s): pick one with --device", what, ae.Where())
		}
		return nil, usagef("%s sessions of several data sources (%s): pick one with --source", what, ae.Where())
	}
	if err != nil {
		return nil, whyNoSession(c, r, ss, device, source, spec, err)
	}
	return found, nil
}

// whyNoSession explains a SESSION that names none of the sessions of
// device and source (ss: the device's, of every source): it may name one
// the flags left out, or the device or source may have none. err is
// snapshot.Find's error, returned when there is nothing more to say.
func whyNoSession(c *cli.Context, r *repo.Repository, ss []*snapshot.Session, device, source, spec string, err error) error {
	all := ss
	if device != "" {
		var lerr error
		if all, lerr = snapshot.ListSessions(c.Context, r, "", nil); lerr != nil {
			return err
		}
	}
	if len(all) == 0 {
		return err // the repository has none
	}
	if spec != "latest" {
		if other, oerr := snapshot.Find(all, spec, time.Local); oerr == nil {
			if device != "" && other.Device != device {
				return fmt.Errorf("session %s is one of device %q, not %q: pick it with --device %s", spec, other.Device, device, other.Device)
			}
			if other.Source != source {
				return fmt.Errorf("session %s is a %s session: pick it with --source %s", spec, other.Source, other.Source)
			}
		}
	}
	if device != "" && len(ss) == 0 {
		return fmt.Errorf("device %q has no sessions (devices with sessions: %s)", device, strings.Join(sessionDevices(all), ", "))
	}
	has := false
	for _, s := range ss {
		has = has || s.Source == source
	}
	if !has {
		who := "the repository"
		if device != "" {
			who = fmt.Sprintf("device %q", device)
		}
		hint := "'cabinet backup' makes one"
		if source == snapshot.SourcePersona {
			hint = "'cabinet persona capture' makes one"
		}
		return fmt.Errorf("%s has no %s sessions (%s; --source picks the sessions of another data source)", who, source, hint)
	}
	return err
}

// sessionDevices lists the devices of ss, sorted, each once.
func sessionDevices(ss []*snapshot.Session) []string {
	var ds []string
	for _, s := range ss {
		ds = append(ds, s.Device)
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

func runRestore(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("restore needs one SESSION ('latest', an ID prefix or a session time)")
	}
	switch o := c.String("overwrite"); o {
	case engine.OverwriteNever, engine.OverwriteIfChanged, engine.OverwriteAlways:
	default:
		return usagef("unknown --overwrite %q: use never, if-changed or always", o)
	}
	if os.Getenv("GOGC") == "" {
		// A restore makes garbage per file (its plan entry, path, open
		// file): at main's GOGC 25 the collector took 0.25 s more user CPU
		// of a corpus restore (2.59-2.67 s against 2.31-2.36 s at 50, three
		// rounds each), for 127-130 MiB of peak RSS against 142-147 MiB
		// (at 100: 165-190 MiB, no faster than 50).
		debug.SetGCPercent(50)
	}
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	s, err := findSession(c, r, c.String("device"), c.String("source"), c.Args().First())
	if err != nil {
		return err
	}
	jsonOut := flagBool(c, "json")
	pv := newProgressView(flagBool(c, "quiet") || (jsonOut && !isTerminal()))
	stats, err := engine.Restore(c.Context, r, s, engine.RestoreOptions{
		Target:    c.String("target"),
		Include:   patterns(c, "include"),
		Exclude:   patterns(c, "exclude"),
		Overwrite: c.String("overwrite"),
		Verify:    c.Bool("verify"),
		LockDir:   cacheDir(c),
		Warn:      warnPrinter(""),
		Progress: func(p engine.RestoreProgress) {
			pv.update(fmt.Sprintf("%d/%d files", p.FilesDone, p.FilesTotal), p.BytesDone, p.BytesTotal)
		},
		ProgressEvery: 200 * time.Millisecond,
	})
	pv.finish()
	if err != nil {
		return err
	}
	if jsonOut {
		if err := printJSON(map[string]any{"session": s.ID(), "stats": stats}); err != nil {
			return err
		}
	} else {
		fmt.Printf("restored session %s (%s): %s, %s, %s, %s; %d skipped\n",
			s.ShortID(), savedTimeName(c, r, s), plural(stats.Files, "file"), plural(stats.Dirs, "folder"),
			plural(stats.Links, "hard link"), humanBytes(stats.Bytes), stats.Skipped)
		if c.Bool("verify") {
			fmt.Printf("verified %s, %d differ\n", plural(stats.Verified, "file"), stats.VerifyFailed)
		}
	}
	if stats.Warnings > 0 {
		fmt.Fprintf(os.Stderr, "cabinet: restore finished with %s (see above)\n", plural(stats.Warnings, "warning"))
		return errWarnings
	}
	return nil
}
