package main

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"

	"github.com/cabinetbackup/cabinet/repo"
)

func newVersionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Description: `Prints cabinet's version, the repository format it reads and writes,
and the platform it was built for.

Example:
  cabinet version --json`,
		Action: func(c *cli.Context) error {
			if flagBool(c, "json") {
				return printJSON(map[string]any{"version": version, "format_version": repo.FormatVersion, "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH})
			}
			fmt.Printf("cabinet %s (repository format %d, %s, %s/%s)\n", version, repo.FormatVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
