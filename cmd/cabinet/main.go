// Command cabinet backs up files and settings into a deduplicated,
// compressed, encrypted repository, restores them, and mounts every backup
// session read-only.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args))
}

func run(args []string) int {
	if os.Getenv("GOGC") == "" {
		// The heap may grow to 1.25x the live data, not 2x: check and
		// persona keep large, reused buffers and allocate little garbage,
		// so collecting more often costs little CPU and keeps peak RSS down
		// (measured on backups of the full corpus: 194 -> 166 MiB at equal
		// CPU). backup and mount set their own soft memory limit that
		// follows the live heap (internal/memlimit), the mount with GOGC
		// 100 under it, backup with the limit alone; restore sets GOGC 50.
		// A fixed soft memory limit was tried: with 78k files queued the
		// live heap passed it and the collector ran without pause, doubling
		// the backup time.
		debug.SetGCPercent(25)
	}
	stopProfile := startProfiles()
	defer stopProfile()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp()
	err := app.RunContext(ctx, args)
	if nf, ok := app.Metadata[notFoundKey].(error); ok && err == nil {
		err = nf
	}
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil && !errors.Is(err, errWarnings) {
		fmt.Fprintln(os.Stderr, "cabinet: interrupted; the repository is consistent, run the command again to continue")
		return exitInterrupted
	}
	code, msg := describeError(err)
	if msg != "" {
		fmt.Fprintln(os.Stderr, "cabinet: "+oneLine(msg))
	}
	return code
}

func newApp() *cli.App {
	app := &cli.App{
		Name:    "cabinet",
		Usage:   "back up files and settings; restore them; mount every session read-only",
		Version: version,
		// A pattern or file name with a comma is one value, not two:
		// --exclude '/x/a,b' excluded every file named b.
		DisableSliceFlagSeparator: true,
		Flags:                     globalFlags(),
		Commands: []*cli.Command{
			newInitCommand(),
			newBackupCommand(),
			newSessionsCommand(),
			newRestoreCommand(),
			newCheckCommand(),
			newRepairCommand(),
			newMountCommand(),
			newPersonaCommand(),
			newKeyCommand(),
			newVersionCommand(),
		},
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: false,
		Description: `Examples:
  cabinet init
  cabinet backup --tag daily ~/Documents ~/Pictures
  cabinet sessions
  cabinet restore --target /tmp/restore latest

Each command's --help has its own example.

` + exitCodesHelp,
		OnUsageError: onUsageError,
	}
	for _, c := range app.Commands {
		addCommonFlags(c)
		refuseArgs(c, "")
	}
	// An unknown command (or subcommand) is wrong usage. urfave/cli looks
	// it up as a help topic and, with no CommandNotFound, ends with
	// "No help topic" and exit code 3, "finished with warnings".
	app.Metadata = map[string]any{}
	app.CommandNotFound = func(c *cli.Context, name string) {
		app.Metadata[notFoundKey] = unknownCommand(c, name)
	}
	return app
}

// notFoundKey keeps in the app's Metadata the error CommandNotFound, which
// cannot return one, found.
const notFoundKey = "cabinet.commandNotFound"

// unknownCommand is the usage error for name, given where a command or
// subcommand of c was expected.
func unknownCommand(c *cli.Context, name string) error {
	cmds, path, of := c.App.Commands, name, ""
	if c.Command != nil && c.Command.Subcommands != nil && c.Command.Name != c.App.Name {
		parent := strings.TrimPrefix(c.Command.FullName(), c.App.Name+" ")
		cmds, path, of = c.Command.Subcommands, parent+" "+name, " of "+parent
	}
	var names []string
	for _, x := range cmds {
		if !x.Hidden && x.Name != "help" {
			names = append(names, x.Name)
		}
	}
	return usagef("unknown command %q: the commands%s are %s", path, of, strings.Join(names, ", "))
}

// addCommonFlags lets the global flags also follow the command name
// ("cabinet backup --repo X"), as scripts and the benchmark write them.
func addCommonFlags(c *cli.Command) {
	have := map[string]bool{}
	for _, f := range c.Flags {
		for _, n := range f.Names() {
			have[n] = true
		}
	}
	for _, f := range commandCopies(globalFlags()) {
		if !have[f.Names()[0]] {
			c.Flags = append(c.Flags, f)
		}
	}
	c.OnUsageError = onUsageError
	for _, sc := range c.Subcommands {
		addCommonFlags(sc)
	}
}

// commandCopies strips the environment variables from the copies of the
// global flags that follow a command name. A copy that read them counted
// as set, and being nearer the command it beat the global flag written
// before the command: "CABINET_REPOSITORY=B cabinet --repo A sessions"
// listed B. Without them a value is, in order, the flag after the
// command, the flag before it, then the environment (the global flag's).
// The help still names the variable.
func commandCopies(flags []cli.Flag) []cli.Flag {
	for _, f := range flags {
		if sf, ok := f.(*cli.StringFlag); ok && len(sf.EnvVars) > 0 {
			sf.Usage += " [$" + strings.Join(sf.EnvVars, ", $") + "]"
			sf.EnvVars = nil
		}
	}
	return flags
}

func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	return usagef("%v", err)
}

// startProfiles writes CPU and heap profiles when CABINET_CPUPROFILE or
// CABINET_MEMPROFILE name files (used by make bench-profile).
func startProfiles() func() {
	var stops []func()
	if p := os.Getenv("CABINET_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
			}
		}
	}
	if p := os.Getenv("CABINET_TRACE"); p != "" {
		// An execution trace (go tool trace): where goroutines wait.
		if f, err := os.Create(p); err == nil {
			if trace.Start(f) == nil {
				stops = append(stops, func() { trace.Stop(); f.Close() })
			}
		}
	}
	if p := os.Getenv("CABINET_MEMPROFILE"); p != "" {
		stops = append(stops, func() {
			if f, err := os.Create(p); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		})
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// refuseArgs makes the commands below c that take no arguments (no
// ArgsUsage) refuse any. urfave/cli stops reading flags at the first
// argument, so 'cabinet sessions latest --json' listed every session in
// text, --json taken for an argument, and exited 0.
func refuseArgs(c *cli.Command, parent string) {
	name := strings.TrimSpace(parent + " " + c.Name)
	for _, sub := range c.Subcommands {
		refuseArgs(sub, name)
	}
	if c.ArgsUsage != "" || c.Action == nil || len(c.Subcommands) > 0 {
		return
	}
	action := c.Action
	c.Action = func(ctx *cli.Context) error {
		if ctx.NArg() > 0 {
			return usagef("%s takes no arguments, got %q (flags go before arguments)", name, ctx.Args().First())
		}
		return action(ctx)
	}
}
