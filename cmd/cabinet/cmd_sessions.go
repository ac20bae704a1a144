package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cabinetbackup/cabinet/snapshot"
)

func newSessionsCommand() *cli.Command {
	return &cli.Command{
		Name:  "sessions",
		Usage: "list backup sessions",
		Description: `Lists the sessions of one device (--device) or of every device, oldest
first, with the time name used by restore and the mount.

Example:
  cabinet sessions --device laptop --json

` + exitCodesHelp,
		Flags:  []cli.Flag{&cli.StringFlag{Name: "device", Usage: "only sessions of device `NAME`"}},
		Action: runSessions,
	}
}

func runSessions(c *cli.Context) error {
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	ss, err := snapshot.ListSessions(c.Context, r, c.String("device"), func(err error) {
		fmt.Fprintln(os.Stderr, "warning:", err)
	})
	if err != nil {
		return err
	}
	names := timeNamesPerDevice(ss)
	if flagBool(c, "json") {
		out := make([]map[string]any, len(ss))
		for i, s := range ss {
			out[i] = sessionJSON(s, time.Local)
			out[i]["time_name"] = names[i]
		}
		return printJSON(out)
	}
	if dev := c.String("device"); len(ss) == 0 && dev != "" {
		// Likely a misspelt device: name the ones there are.
		if devices, err := r.Devices(c.Context); err == nil && len(devices) > 0 {
			fmt.Printf("no sessions of device %q (devices with sessions: %s)\n", dev, strings.Join(devices, ", "))
			return nil
		}
	}
	if len(ss) == 0 {
		fmt.Println("no sessions yet")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tDEVICE\tSOURCE\tSTATUS\tFILES\tSIZE\tPATHS")
	for i, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.ShortID(), names[i], s.Device, s.Source, s.Status,
			s.Summary.TotalFiles, humanBytes(s.Summary.TotalBytes), strings.Join(s.Paths, ", "))
	}
	return tw.Flush()
}

// timeNamesPerDevice gives the time names the mount shows: per device
// and data source, with (2) for sessions in the same second.
func timeNamesPerDevice(ss []*snapshot.Session) []string {
	groups := map[string][]int{}
	for i, s := range ss {
		k := s.Device + "\x00" + s.Source
		groups[k] = append(groups[k], i)
	}
	names := make([]string, len(ss))
	for _, idx := range groups {
		sub := make([]*snapshot.Session, len(idx))
		for j, i := range idx {
			sub[j] = ss[i]
		}
		for j, n := range snapshot.TimeNames(sub, time.Local) {
			names[idx[j]] = n
		}
	}
	return names
}
