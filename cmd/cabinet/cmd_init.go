package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
)

func newInitCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create a repository",
		Description: `Creates a new repository at --repo (or CABINET_REPOSITORY). With no
repository named, creates the embedded default repository in your data
folder and, when no password is given and no terminal is attached,
generates its password and keeps it beside it (mode 0600).

Example:
  CABINET_PASSWORD_FILE=~/.cabinet-pw cabinet init --repo /backups/cabinet

` + exitCodesHelp,
		Action: runInit,
	}
}

func runInit(c *cli.Context) error {
	loc, isDefault, err := repoLocation(c)
	if err != nil {
		return err
	}
	be := local.New(loc)
	// Refuse an existing repository before a password is asked for or
	// generated: init run twice on the default repository wrote a new
	// password file, which every later command then used, wrongly.
	if err := refuseRepository(c, be, loc); err != nil {
		return err
	}
	unlock, err := lockInit(loc)
	if err != nil {
		return fmt.Errorf("create repository at %s: %w", loc, err)
	}
	defer unlock()
	// Again, now that no other init runs here: one may have just ended.
	if err := refuseRepository(c, be, loc); err != nil {
		return err
	}
	pw, savePw, err := initPassword(c, isDefault)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	r, err := repo.Create(c.Context, be, pw, repo.CreateOptions{
		Key: repo.KeyOptions{Hostname: host, Username: currentUserName(), Now: time.Now()},
	}, repo.Options{})
	if err != nil {
		return fmt.Errorf("create repository at %s: %w", loc, err)
	}
	defer r.Close()
	if savePw != "" {
		// Only now: a file left by a failed init would shadow the
		// password of the repository created later.
		if err := saveDefaultPassword(savePw, pw); err != nil {
			return fmt.Errorf("created the repository at %s, but could not keep its generated password in %s (%v): remove %s and run init again", loc, savePw, err, loc)
		}
	}
	if flagBool(c, "json") {
		return printJSON(map[string]any{"repository": loc, "id": r.Config().ID, "format_version": repo.FormatVersion})
	}
	fmt.Printf("created cabinet repository %s at %s\n", r.Config().ID[:8], loc)
	if isDefault && flagString(c, "password-file") == "" && flagString(c, "password-command") == "" {
		if pf, err := defaultPasswordFile(); err == nil {
			if _, err := os.Stat(pf); err == nil {
				fmt.Printf("its password is kept in %s: keep a copy elsewhere, without it the data cannot be read\n", pf)
			}
		}
	}
	return nil
}

// refuseRepository fails if loc holds a repository, or something that
// may be one (a damaged config).
func refuseRepository(c *cli.Context, be *local.Backend, loc string) error {
	if _, err := repo.ReadConfig(c.Context, be); err == nil {
		return fmt.Errorf("create repository at %s: it already holds a cabinet repository", loc)
	} else if !errors.Is(err, repo.ErrNoRepository) {
		return fmt.Errorf("create repository at %s: %w", loc, err)
	}
	return nil
}

// lockInit makes sure no other init creates a repository at loc until
// the returned function is called. Two inits at once both found no config,
// both wrote one, and the repository kept the config of one and the keys
// of both: the other's password then met a config it could not open. The
// lock is a file created only if absent, as every system has; it is named
// as a temporary file, so one left by an init killed outright shows in
// check. The folder loc is made here when missing, and removed again if
// it is left empty.
func lockInit(loc string) (unlock func(), err error) {
	_, statErr := os.Stat(loc)
	if err := os.MkdirAll(loc, 0o700); err != nil {
		return nil, err
	}
	made := errors.Is(statErr, fs.ErrNotExist)
	lock := filepath.Join(loc, local.TempPrefix+"init")
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("another cabinet init is creating a repository there (if none runs, one was stopped: remove %s and run init again)", lock)
	}
	if err != nil {
		if made {
			os.Remove(loc)
		}
		return nil, err
	}
	f.Close()
	return func() {
		os.Remove(lock)
		if made {
			os.Remove(loc) // only if empty: init failed before writing
		}
	}, nil
}

// initPassword is the new repository's password: as password() finds it,
// or, for the default repository with none given and no terminal to ask
// on, a generated one that init keeps in the file save names once the
// repository is created.
func initPassword(c *cli.Context, isDefault bool) (pw []byte, save string, err error) {
	if isDefault && flagString(c, "password-file") == "" && flagString(c, "password-command") == "" && !term.IsTerminal(int(os.Stdin.Fd())) {
		pf, err := defaultPasswordFile()
		if err != nil {
			return nil, "", err
		}
		if _, err := os.Stat(pf); errors.Is(err, os.ErrNotExist) {
			pw, err := generateDefaultPassword()
			return pw, pf, err
		}
	}
	pw, _, err = password(c, isDefault, true)
	return pw, "", err
}
