package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cabinetbackup/cabinet/engine"
)

func newCheckCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "verify the repository",
		Description: `Checks that every index file reads, every cabinet it names exists, and
every session's trees and slices are present. --read-data also decrypts
and authenticates every blob (--read-data-subset a share of the cabinets)
and names each damaged object and the files it affects. Left-overs of
interrupted backups are reported as information, not errors.

Examples:
  cabinet check --read-data-subset 10%
  cabinet check --read-data-subset 2/7   (on day 2 of 7: all cabinets in a week)

` + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "read-data", Usage: "read and verify all data"},
			&cli.StringFlag{Name: "read-data-subset", Usage: "read and verify `N%` of the cabinets, chosen at random, or group n/t of t groups (checks of 1/t to t/t read each cabinet once)"},
		},
		Action: runCheck,
	}
}

func runCheck(c *cli.Context) error {
	var subset float64
	var group, groups int
	if s := c.String("read-data-subset"); s != "" {
		if c.Bool("read-data") {
			return usagef("--read-data reads every cabinet and --read-data-subset a part of them: give one of the two")
		}
		if n, t, ok := strings.Cut(s, "/"); ok {
			var err1, err2 error
			group, err1 = strconv.Atoi(n)
			groups, err2 = strconv.Atoi(t)
			if err1 != nil || err2 != nil || groups < 1 || groups > 256 || group < 1 || group > groups {
				return usagef("--read-data-subset n/t wants 1 <= n <= t <= 256, like 2/5")
			}
		} else {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
			if err != nil || !(v > 0 && v <= 100) { // NaN is neither
				return usagef("--read-data-subset wants a percentage between 0 and 100, like 10%%, or a group n/t, like 2/5")
			}
			subset = v / 100
		}
	}
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	jsonOut := flagBool(c, "json")
	var findings []engine.Finding
	res, err := engine.Check(c.Context, r, engine.CheckOptions{
		ReadData:       c.Bool("read-data"),
		ReadDataSubset: subset,
		ReadDataGroup:  group,
		ReadDataGroups: groups,
		Report: func(f engine.Finding) {
			findings = append(findings, f)
			if jsonOut {
				return
			}
			kind := "info"
			if f.Error {
				kind = "error"
			}
			fmt.Fprintf(os.Stderr, "%s: %s: %s\n", kind, f.Object, oneLine(f.Message))
			for i, file := range f.Files {
				if i == 20 {
					fmt.Fprintf(os.Stderr, "  ... and %d more files\n", len(f.Files)-20)
					break
				}
				fmt.Fprintf(os.Stderr, "  affects %s\n", oneLine(file))
			}
		},
	})
	if err != nil {
		return err
	}
	if jsonOut {
		if findings == nil {
			findings = []engine.Finding{}
		}
		if err := printJSON(map[string]any{"result": res, "findings": findings}); err != nil {
			return err
		}
	} else {
		fmt.Printf("checked %s, %s, %s (%d read), %s: %s, %s\n",
			plural(res.Sessions, "session"), plural(res.Trees, "tree"), plural(res.Cabinets, "cabinet"), res.CabinetsRead,
			plural(res.Blobs, "blob"), plural(res.Errors, "error"), plural(res.Infos, "note"))
	}
	if res.Errors > 0 {
		return errDamagedFound
	}
	return nil
}
