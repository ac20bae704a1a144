package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cabinetbackup/cabinet/engine"
	"github.com/cabinetbackup/cabinet/persona"
	"github.com/cabinetbackup/cabinet/snapshot"
)

func newPersonaCommand() *cli.Command {
	return &cli.Command{
		Name:  "persona",
		Usage: "capture and apply system and application settings",
		Description: `A persona is a user's system and application settings. 'capture' stores
them as a session with data source "persona" (in the mount:
MOUNT/<device>/persona/<session time>/, with manifest.json); 'apply' puts
them on this or another device, after checking compatibility; 'list' shows
the catalog of what is captured; 'show' prints a persona's manifest.

Example (move ann's settings to a new laptop, straight from a mount):
  cabinet persona capture                                   # on the old laptop
  cabinet mount /mnt/cabinet &                              # on the new one
  cabinet persona apply --from /mnt/cabinet/old-laptop/persona/latest --dry-run

` + exitCodesHelp,
		Subcommands: []*cli.Command{
			newPersonaListCommand(),
			newPersonaCaptureCommand(),
			newPersonaApplyCommand(),
			newPersonaShowCommand(),
		},
	}
}

func catalogFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "catalog", KeepSpace: true, Usage: "add the entries of catalog `FILE` (repeatable; *.json in your config folder's cabinet/persona are always read)"}
}

func selectFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "only", Usage: "only entries `A,B` (names like outlook or ids like windows/outlook)"},
		&cli.StringFlag{Name: "exclude", Usage: "skip entries `A,B`"},
	}
}

func selector(c *cli.Context) persona.Selector {
	return persona.Selector{Only: persona.SplitList(c.String("only")), Exclude: persona.SplitList(c.String("exclude"))}
}

// loadCatalog reads the built-in catalog, the user's catalog folder and --catalog files.
func loadCatalog(c *cli.Context) (*persona.Catalog, error) {
	dir := ""
	if cfg, err := os.UserConfigDir(); err == nil {
		dir = persona.DefaultCatalogDir(cfg)
	}
	return persona.LoadCatalog(dir, c.StringSlice("catalog")...)
}

// --- list

func newPersonaListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "show the catalog entries and what they capture",
		Description: `Lists the catalog: built-in entries, entries of *.json files in your config
folder's cabinet/persona, and --catalog files.

Example:
  cabinet persona list --os windows

` + exitCodesHelp,
		Flags:  []cli.Flag{&cli.StringFlag{Name: "os", Usage: "only entries for `OS`: windows, macos or linux"}, catalogFlag()},
		Action: runPersonaList,
	}
}

func runPersonaList(c *cli.Context) error {
	osName := c.String("os")
	switch osName {
	case "", persona.Windows, persona.MacOS, persona.Linux:
	default:
		return usagef("--os must be windows, macos or linux, not %q", osName)
	}
	cat, err := loadCatalog(c)
	if err != nil {
		return err
	}
	entries := cat.ForOS(osName)
	if flagBool(c, "json") {
		return printJSON(entries)
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tNAME\tCAPTURES")
	for _, e := range entries {
		what := e.Describe()
		if e.Root {
			what += " [root]"
		}
		if e.Note != "" {
			what += " (" + e.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.ID, e.Name, what)
	}
	return tw.Flush()
}

// --- capture

func newPersonaCaptureCommand() *cli.Command {
	return &cli.Command{
		Name:  "capture",
		Usage: "capture this user's settings as a persona session",
		Description: `Captures the settings of every catalog entry for this OS from the home
folder, with native exports where settings live outside files (reg export,
defaults export, dconf dump, CUPS queues; NetworkManager connections as
root), and stores them as a session with data source "persona".
Machine-bound secrets (browser passwords, keyrings, account tokens) are
listed as "not portable: sign in again", never copied.

Example:
  cabinet persona capture --exclude printers

` + exitCodesHelp,
		Flags: append([]cli.Flag{
			deviceFlag(),
			&cli.StringFlag{Name: "home", Usage: "capture the home folder `DIR` (default: yours)"},
			&cli.StringSliceFlag{Name: "tag", Usage: "add `TAG` to the session (repeatable)"},
			catalogFlag(),
		}, selectFlags()...),
		Action: runPersonaCapture,
	}
}

func runPersonaCapture(c *cli.Context) error {
	tags, err := sessionTags(c)
	if err != nil {
		return err
	}
	cat, err := loadCatalog(c)
	if err != nil {
		return err
	}
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	// Stage on disk beside the cache rather than in a small tmpfs: Mail
	// folders and PST files can be large.
	if d := r.CacheDir(); d != "" {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("persona staging: %w", err)
		}
	}
	staging, err := os.MkdirTemp(r.CacheDir(), "persona-staging-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	sys, err := persona.DetectSystem(c.Context, nil)
	if err != nil {
		return err
	}
	sys.Device = deviceName(c)
	rep, err := persona.Capture(c.Context, persona.CaptureOptions{
		Staging: staging, Home: c.String("home"), Catalog: cat, Select: selector(c), System: &sys,
	})
	if err != nil {
		return err
	}
	jsonOut := flagBool(c, "json")
	pv := newProgressView(flagBool(c, "quiet") || (jsonOut && !isTerminal()))
	s, err := engine.Backup(c.Context, r, engine.BackupOptions{
		Device:      sys.Device,
		Source:      snapshot.SourcePersona,
		Paths:       []string{staging},
		RootIsPath:  true,
		Tags:        tags,
		User:        rep.Manifest.User,
		RegisterDir: r.CacheDir(),
		LockDir:     cacheDir(c),
		Warn:        warnPrinter(""),
		Progress: func(p engine.Progress) {
			pv.update(fmt.Sprintf("%d/%d files", p.FilesDone, p.FilesTotal), p.BytesDone, p.BytesTotal)
		},
		ProgressEvery: 200 * time.Millisecond,
	})
	pv.finish()
	if err != nil {
		return err
	}
	if jsonOut {
		sj := sessionJSON(s, time.Local)
		sj["time_name"] = savedTimeName(c, r, s)
		if err := printJSON(map[string]any{"session": sj, "manifest": rep.Manifest}); err != nil {
			return err
		}
	} else {
		fmt.Printf("persona session %s of %s saved (%s): %s, %s, %s\n", s.ShortID(), s.Device,
			savedTimeName(c, r, s), plural(rep.Files, "file"), humanBytes(rep.Bytes), plural(rep.Exports, "export"))
		printManifestEntries(rep.Manifest)
	}
	// Exit code 3 when a file could not be read: by the engine, or by
	// the capture itself (failed, permission, problems of an entry).
	if s.Status == snapshot.StatusCompletedWithWarnings || rep.Manifest.Incomplete() {
		return errWarnings
	}
	return nil
}

// --- apply

func newPersonaApplyCommand() *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "apply a persona to this device (or undo the last apply)",
		ArgsUsage: "[SESSION]",
		Description: `Applies a persona session (SESSION: 'latest', an ID prefix or a session
time; --device picks another device's sessions) or a persona folder
(--from, e.g. a mounted MOUNT/<device>/persona/<time>/). Compatibility is
checked first: no later OS onto an earlier one, no 64-bit onto 32-bit, no
other OS family, Office only with the same bitness and a same or later
version, the same UI language unless --force. Every file that is
overwritten is saved first; 'apply --undo' puts it back. Paths naming the
old home and user name are rewritten to this home's, in settings files too.
Applications that are running are skipped with a warning.

Examples:
  cabinet persona apply --device old-laptop latest
  cabinet persona apply --from /mnt/cabinet/old-laptop/persona/latest --dry-run
  cabinet persona apply --undo

Exit code 3 when something was not applied (listed with the reason).
` + exitCodesHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "device", Usage: "pick SESSION among those of device `NAME` (default: this device)"},
			&cli.StringFlag{Name: "from", Usage: "apply the persona folder `DIR` instead of a session"},
			&cli.StringFlag{Name: "home", Usage: "apply to the home folder `DIR` (default: yours)"},
			&cli.StringFlag{Name: "user", Usage: "the target user `NAME` used when remapping (default: yours, or the name of --home)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan, write nothing"},
			&cli.BoolFlag{Name: "force", Usage: "apply despite a different UI language"},
			&cli.BoolFlag{Name: "keep-existing", Usage: "write 'name (1).ext' beside a differing existing file instead of overwriting it"},
			&cli.DurationFlag{Name: "wait", Usage: "wait up to `DURATION` for running applications to close"},
			&cli.BoolFlag{Name: "undo", Usage: "undo the last apply"},
			&cli.StringFlag{Name: "undo-dir", Usage: "keep undo data in `DIR` (default: cabinet/persona-undo in the target's data folder)"},
			catalogFlag(),
		}, selectFlags()...),
		Action: runPersonaApply,
	}
}

func runPersonaApply(c *cli.Context) error {
	if c.Bool("undo") {
		return runPersonaUndo(c)
	}
	from := c.String("from")
	switch {
	case from != "" && c.NArg() > 0:
		return usagef("give either --from DIR or a SESSION, not both")
	case from == "" && c.NArg() != 1:
		return usagef("apply needs one SESSION or --from DIR")
	}
	cat, err := loadCatalog(c)
	if err != nil {
		return err
	}
	if from == "" {
		dir, cleanup, err := restorePersona(c, c.Args().First(), nil)
		if err != nil {
			return err
		}
		defer cleanup()
		from = dir
	}
	rep, err := persona.Apply(c.Context, persona.ApplyOptions{
		From: from, Home: c.String("home"), User: c.String("user"), Select: selector(c),
		DryRun: c.Bool("dry-run"), Force: c.Bool("force"), KeepExisting: c.Bool("keep-existing"),
		UndoDir: c.String("undo-dir"), Wait: c.Duration("wait"), Catalog: cat,
	})
	if err != nil {
		var ie *persona.IncompatibleError
		if errors.As(err, &ie) && flagBool(c, "json") {
			printJSON(map[string]any{"error": err.Error(), "violations": ie.Violations})
		}
		if rep != nil && rep.UndoSet != "" {
			fmt.Fprintf(os.Stderr, "warning: the apply stopped after changing files; undo them with '%s'\n", undoCommand(c))
		}
		return err
	}
	if flagBool(c, "json") {
		if err := printJSON(rep); err != nil {
			return err
		}
	} else {
		printApplyReport(rep, undoCommand(c))
	}
	if rep.Incomplete() {
		return errWarnings
	}
	return nil
}

func runPersonaUndo(c *cli.Context) error {
	dir := c.String("undo-dir")
	// The undo set must have been made for this home: a journal found in
	// a home is not trusted to name another one.
	home := c.String("home")
	if dir == "" {
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return err
			}
			home = h
		}
		dir = persona.DefaultUndoDir(persona.HostFamily(), home)
	}
	cat, err := loadCatalog(c)
	if err != nil {
		return err
	}
	rep, err := persona.Undo(c.Context, persona.UndoOptions{Dir: dir, Home: home, Catalog: cat})
	if err != nil {
		return err
	}
	if flagBool(c, "json") {
		if err := printJSON(rep); err != nil {
			return err
		}
	} else {
		fmt.Printf("undid %s: %d restored, %d removed\n", filepath.Base(rep.Set), len(rep.Restored), len(rep.Removed))
		for _, p := range rep.Problems {
			fmt.Fprintln(os.Stderr, "warning:", p)
		}
	}
	if len(rep.Problems) > 0 {
		return errWarnings
	}
	return nil
}

// restorePersona restores a persona session (or, with include, part of it)
// into a temporary folder, which cleanup removes.
func restorePersona(c *cli.Context, spec string, include []string) (string, func(), error) {
	r, err := openRepository(c)
	if err != nil {
		return "", nil, err
	}
	defer r.Close()
	device := c.String("device")
	if device == "" {
		device = deviceName(c)
	}
	s, err := findSession(c, r, device, snapshot.SourcePersona, spec)
	if err != nil {
		return "", nil, fmt.Errorf("persona session %q of device %s: %w", spec, device, err)
	}
	dir, err := os.MkdirTemp("", "cabinet-persona-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	stats, err := engine.Restore(c.Context, r, s, engine.RestoreOptions{Target: dir, Include: include, Warn: warnPrinter("")})
	if err == nil && stats.Warnings > 0 {
		err = fmt.Errorf("persona session %s could not be restored completely (%s)", s.ShortID(), plural(stats.Warnings, "warning"))
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return dir, cleanup, nil
}

// undoCommand is the command that undoes this apply: with its --home and
// --undo-dir, without which 'apply --undo' looks in the caller's home.
func undoCommand(c *cli.Context) string {
	cmd := "cabinet persona apply --undo"
	for _, f := range []string{"home", "undo-dir"} {
		if v := c.String(f); v != "" {
			cmd += " --" + f + " " + shellQuote(v)
		}
	}
	return cmd
}

func printApplyReport(rep *persona.ApplyReport, undoCmd string) {
	if rep.DryRun {
		fmt.Printf("plan (dry run) for %s from %s:\n", rep.Home, rep.Source)
	} else {
		fmt.Printf("applied to %s from %s:\n", rep.Home, rep.Source)
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tSTATUS\tCHANGES\tREASON")
	var empty []string
	for _, e := range rep.Entries {
		if e.Status == persona.ApplySkipped && strings.HasPrefix(e.Reason, "nothing captured") {
			empty = append(empty, e.ID)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", e.ID, e.Status, len(e.Actions), e.Reason)
	}
	tw.Flush()
	if len(empty) > 0 {
		fmt.Printf("nothing captured for: %s\n", strings.Join(empty, ", "))
	}
	for _, e := range rep.Entries {
		if rep.DryRun {
			for _, a := range e.Actions {
				fmt.Printf("  %s: %s %s %s\n", e.ID, a.Op, a.Path, a.Detail)
			}
		}
		for _, s := range e.Skipped {
			fmt.Printf("  %s: not applied: %s (%s)\n", e.ID, s.Path, s.Reason)
		}
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	fmt.Printf("%s, %s unchanged, %s not applied", plural(rep.Changed, "change"), counted(rep.Unchanged, "entry", "entries"), plural(rep.Skipped, "item"))
	if rep.UndoSet != "" {
		fmt.Printf("; undo with '%s'", undoCmd)
	}
	fmt.Println()
}

// --- show

func newPersonaShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print the manifest of a persona session",
		ArgsUsage: "[SESSION]",
		Description: `Prints the manifest of a persona session (or of a persona folder with
--from): device, user, home, OS version and build, language, app
versions, and each entry's status and reason.

Example:
  cabinet persona show --device old-laptop latest

` + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "device", Usage: "pick SESSION among those of device `NAME` (default: this device)"},
			&cli.StringFlag{Name: "from", Usage: "read the persona folder `DIR` instead of a session"},
		},
		Action: runPersonaShow,
	}
}

func runPersonaShow(c *cli.Context) error {
	from := c.String("from")
	switch {
	case from != "" && c.NArg() > 0:
		return usagef("give either --from DIR or a SESSION, not both")
	case from == "" && c.NArg() != 1:
		return usagef("show needs one SESSION or --from DIR")
	}
	if from == "" {
		dir, cleanup, err := restorePersona(c, c.Args().First(), []string{"/" + persona.ManifestName})
		if err != nil {
			return err
		}
		defer cleanup()
		from = dir
	}
	m, err := persona.ReadManifest(from)
	if err != nil {
		return err
	}
	if flagBool(c, "json") {
		return printJSON(m)
	}
	fmt.Printf("persona of %s\ncaptured %s from %s\n", m.Summary(), m.Created.Local().Format(snapshot.TimeLayout), m.Home)
	if len(m.Apps) > 0 {
		var apps []string
		for name, a := range m.Apps {
			s := name + " " + a.Version
			if a.Arch != "" {
				s += " (" + a.Arch + ")"
			}
			apps = append(apps, s)
		}
		sort.Strings(apps)
		fmt.Println("apps:", strings.Join(apps, ", "))
	}
	printManifestEntries(m)
	return nil
}

func printManifestEntries(m *persona.Manifest) {
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tSTATUS\tFILES\tEXPORTS\tREASON")
	quiet := map[string][]string{}
	for _, e := range m.Entries {
		if e.Status == persona.StatusNotFound || e.Status == persona.StatusExcluded {
			quiet[e.Status] = append(quiet[e.Status], e.Entry.ID)
			continue
		}
		files := 0
		for _, f := range e.Files {
			if !f.Dir {
				files++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", e.Entry.ID, e.Status, files, len(e.Exports), e.Reason)
	}
	tw.Flush()
	if ids := quiet[persona.StatusNotFound]; len(ids) > 0 {
		fmt.Printf("not on this device: %s\n", strings.Join(ids, ", "))
	}
	if ids := quiet[persona.StatusExcluded]; len(ids) > 0 {
		fmt.Printf("excluded: %s\n", strings.Join(ids, ", "))
	}
	for _, e := range m.Entries {
		for _, n := range e.NotPortable {
			fmt.Printf("  %s: %s%s: %s\n", e.Entry.ID, n.Path, n.Item, n.Reason)
		}
		for _, p := range e.Problems {
			fmt.Printf("  %s: %s\n", e.Entry.ID, p)
		}
	}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:=@,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
