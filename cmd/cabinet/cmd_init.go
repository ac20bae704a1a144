package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

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
	pw, _, err := password(c, isDefault, true)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	r, err := repo.Create(c.Context, local.New(loc), pw, repo.CreateOptions{
		Key: repo.KeyOptions{Hostname: host, Username: currentUserName(), Now: time.Now()},
	}, repo.Options{})
	if err != nil {
		return fmt.Errorf("create repository at %s: %w", loc, err)
	}
	defer r.Close()
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
