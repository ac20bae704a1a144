package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/cabinetbackup/cabinet/engine"
	"github.com/cabinetbackup/cabinet/repo"
)

// Exit codes, documented in the README and in every command's help.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitWarnings    = 3
	exitNoRepo      = 10
	exitBusy        = 11
	exitPassword    = 12
	exitDamaged     = 13
	exitInterrupted = 130
)

const exitCodesHelp = `Exit codes: 0 ok; 1 failed; 2 wrong usage; 3 finished with warnings (some
files could not be read or written); 10 no repository at the location;
11 another session of this device and data source is running; 12 wrong
password; 13 check found damaged or missing data; 130 interrupted.`

// errWarnings ends a command that finished but skipped something.
var errWarnings = errors.New("finished with warnings")

// errDamagedFound ends a check that found errors.
var errDamagedFound = errors.New("check found errors")

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// describeError maps an error to its exit code and one-line message.
func describeError(err error) (int, string) {
	var ue usageError
	var pe *os.PathError
	switch {
	case errors.Is(err, errWarnings):
		return exitWarnings, ""
	case errors.Is(err, errDamagedFound):
		return exitDamaged, "the repository has damaged or missing data (listed above): run 'cabinet repair index' (with --read-data for damaged blobs), then back up again to store the files still on disk, or put the objects named back from a copy of the repository (a restore names the files whose data is lost in warnings and restores the others)"
	case errors.As(err, &ue):
		return exitUsage, ue.msg + " (see --help)"
	case errors.Is(err, path.ErrBadPattern):
		return exitUsage, err.Error() + ": patterns use *, ?, [...] within a name and ** for any number of names (see --help)"
	case errors.Is(err, repo.ErrNoRepository):
		return exitNoRepo, err.Error() + ": create one with 'cabinet init', or name the right one with --repo or CABINET_REPOSITORY"
	case errors.Is(err, repo.ErrWrongPassword):
		return exitPassword, err.Error() + ": check it, and where it comes from: --password-file, CABINET_PASSWORD_FILE, CABINET_PASSWORD_COMMAND or the prompt"
	case errors.Is(err, repo.ErrVersion):
		return exitFailed, err.Error()
	case errors.Is(err, engine.ErrBusy):
		return exitBusy, err.Error()
	case errors.Is(err, syscall.ENOSPC):
		return exitFailed, err.Error() + ": the disk is full; free space and run the command again (a backup keeps what it stored and the repository stays consistent; a restore run again writes what is missing)"
	case errors.Is(err, engine.ErrNothingSelected):
		return exitFailed, err.Error() + "; 'cabinet mount' shows the session's paths, and patterns match as in --help"
	case errors.Is(err, engine.ErrUnsafePath):
		return exitDamaged, err.Error()
	case errors.Is(err, repo.ErrCannotOpen):
		// check cannot open the repository either.
		return exitDamaged, err.Error() + ": the repository cannot be opened without it; put the file back from a copy of the repository (a damaged key file: use the password of another key)"
	case errors.Is(err, repo.ErrBlobNotFound):
		return exitDamaged, err.Error() + ": the repository lacks data this needs; 'cabinet check' lists what is lost, and 'cabinet repair index' then a backup store again what the files on disk still hold"
	case errors.Is(err, repo.ErrDamaged):
		return exitDamaged, err.Error() + ": run 'cabinet check --read-data' to list what is affected"
	case errors.As(err, &pe) && errors.Is(err, os.ErrPermission):
		return exitFailed, err.Error() + ": check the permissions of that path"
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode(), err.Error()
	}
	return exitFailed, err.Error()
}
