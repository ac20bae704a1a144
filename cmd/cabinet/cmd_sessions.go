package main

import (
	"fmt"
	"os"
	"slices"
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
first, with the time name used by restore and the mount; --tag keeps the
sessions that carry every tag named.

Examples:
  cabinet sessions --device laptop --json
  cabinet sessions --tag daily

` + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "device", Usage: "only sessions of device `NAME`"},
			&cli.StringSliceFlag{Name: "tag", Usage: "only sessions tagged `TAG` (repeatable: every tag named)"},
		},
		Action: runSessions,
	}
}

func runSessions(c *cli.Context) error {
	tags, err := sessionTags(c) // an empty one is wrong usage, as for backup
	if err != nil {
		return err
	}
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
	names := snapshot.GroupTimeNames(ss, time.Local) // of all sessions: the names the mount shows
	listed := len(ss)                                // before the tag filter
	if len(tags) > 0 {
		var keptS []*snapshot.Session
		var keptN []string
		for i, s := range ss {
			if hasTags(s, tags) {
				keptS, keptN = append(keptS, s), append(keptN, names[i])
			}
		}
		ss, names = keptS, keptN
	}
	if flagBool(c, "json") {
		out := make([]map[string]any, len(ss))
		for i, s := range ss {
			out[i] = sessionJSON(s, time.Local)
			out[i]["time_name"] = names[i]
		}
		return printJSON(out)
	}
	if dev := c.String("device"); listed == 0 && dev != "" {
		// Likely a misspelt device: name the ones there are.
		if devices, err := r.Devices(c.Context); err == nil && len(devices) > 0 {
			fmt.Printf("no sessions of device %q (devices with sessions: %s)\n", dev, oneLine(strings.Join(devices, ", ")))
			return nil
		}
	}
	if len(ss) == 0 {
		if len(tags) > 0 {
			fmt.Printf("no sessions tagged %s\n", oneLine(strings.Join(tags, " and ")))
			return nil
		}
		fmt.Println("no sessions yet")
		return nil
	}
	// A TAGS column only where some session has tags.
	tagged := slices.ContainsFunc(ss, func(s *snapshot.Session) bool { return len(s.Tags) > 0 })
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	header := "ID\tTIME\tDEVICE\tSOURCE\tSTATUS\tFILES\tSIZE\t"
	if tagged {
		header += "TAGS\t"
	}
	fmt.Fprintln(tw, header+"PATHS")
	// One line per session: control characters in names (a newline or
	// tab in a path, device or tag) are escaped, as in warnings; they
	// split the row and shifted the columns. --json keeps them as they are.
	for i, s := range ss {
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%s\t", s.ShortID(), names[i], oneLine(s.Device), oneLine(s.Source), s.Status,
			s.Summary.TotalFiles, humanBytes(s.Summary.TotalBytes))
		if tagged {
			row += oneLine(strings.Join(s.Tags, ",")) + "\t"
		}
		fmt.Fprintln(tw, row+oneLine(strings.Join(s.Paths, ", ")))
	}
	return tw.Flush()
}

// hasTags reports whether s carries every tag in tags.
func hasTags(s *snapshot.Session, tags []string) bool {
	for _, t := range tags {
		if !slices.Contains(s.Tags, t) {
			return false
		}
	}
	return true
}
