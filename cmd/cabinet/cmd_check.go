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

Example:
  cabinet check --read-data-subset 10%

` + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "read-data", Usage: "read and verify all data"},
			&cli.StringFlag{Name: "read-data-subset", Usage: "read and verify `N%` of the cabinets"},
		},
		Action: runCheck,
	}
}

func runCheck(c *cli.Context) error {
	var subset float64
	if s := c.String("read-data-subset"); s != "" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || v <= 0 || v > 100 {
			return usagef("--read-data-subset wants a percentage between 0 and 100, like 10%%")
		}
		subset = v / 100
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
		Report: func(f engine.Finding) {
			findings = append(findings, f)
			if jsonOut {
				return
			}
			kind := "info"
			if f.Error {
				kind = "error"
			}
			fmt.Fprintf(os.Stderr, "%s: %s: %s\n", kind, f.Object, f.Message)
			for i, file := range f.Files {
				if i == 20 {
					fmt.Fprintf(os.Stderr, "  ... and %d more files\n", len(f.Files)-20)
					break
				}
				fmt.Fprintf(os.Stderr, "  affects %s\n", file)
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
		fmt.Printf("checked %d sessions, %d trees, %d cabinets (%d read), %d blobs: %d errors, %d notes\n",
			res.Sessions, res.Trees, res.Cabinets, res.CabinetsRead, res.Blobs, res.Errors, res.Infos)
	}
	if res.Errors > 0 {
		return errDamagedFound
	}
	return nil
}
