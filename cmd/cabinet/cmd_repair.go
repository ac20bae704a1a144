package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cabinetbackup/cabinet/repo"
)

func newRepairCommand() *cli.Command {
	return &cli.Command{
		Name:  "repair",
		Usage: "repair a damaged repository",
		Description: `Heals a repository in which 'cabinet check' found a missing, truncated
or damaged cabinet.

Example (--read-data where check --read-data found damaged blobs):
  cabinet repair index --read-data
  cabinet backup ~/Documents ~/Pictures

The first rebuilds the index from the cabinets stored, so that backups no
longer take the lost slices for stored; the second stores the files that
used them again.

` + exitCodesHelp,
		Subcommands: []*cli.Command{
			{
				Name:  "index",
				Usage: "rebuild the index from the cabinets stored",
				Description: `Reads the header of every cabinet and writes new index files listing the
blobs of those whose header reads, then removes the index files there
were before. Missing cabinets and cabinets whose header does not read
(truncated, damaged) are left out; with --read-data every blob is read
and authenticated too, as 'check --read-data' does, and a cabinet with a
damaged blob is left out. The blobs of a left-out cabinet that still read
are stored again, in a new cabinet: only the damaged ones are lost.
Cabinets no index file lists are read whole and indexed if intact (while
an index file is damaged, the good blobs of one that is not are stored
again too).
Nothing is deleted but the old index files, and only once the new ones
are written: an interrupted repair leaves a consistent repository, and
running it again completes it. A repository whose index already matches
its cabinets is left as it is.

Blobs that were lost are missing for restores of the sessions that used
them. Run 'cabinet backup' afterwards: it reads the files that used them
again (the register no longer trusts its entries) and stores the lost
slices under the same names, which heals the older sessions too where the
files did not change; 'cabinet check' names what is still missing.

Example:
  cabinet repair index --read-data
  cabinet backup ~/Documents ~/Pictures

Exit codes: 0 the index is rebuilt (or was right already); 3 it is
rebuilt, but blobs the old index listed are lost (named on standard
error: back up again); 1 failed (the repository stays consistent: run it
again); 10 no repository at the location; 12 wrong password; 130
interrupted (run it again).`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "read-data", Usage: "read and authenticate every blob, and leave cabinets with damaged ones out"},
				},
				Action: runRepairIndex,
			},
		},
	}
}

func runRepairIndex(c *cli.Context) error {
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	jsonOut := flagBool(c, "json")
	pv := newProgressView(flagBool(c, "quiet") || (jsonOut && !isTerminal()))
	res, err := r.RebuildIndex(c.Context, repo.RebuildOptions{
		ReadData: c.Bool("read-data"),
		Progress: func(p repo.RebuildProgress) {
			pv.update(fmt.Sprintf("%d/%d cabinets", p.Cabinets, p.CabinetsTotal), p.Bytes, p.BytesTotal)
		},
	})
	pv.finish()
	if err != nil {
		return err
	}
	for _, l := range res.LeftOut {
		kind, what := "info", "listed by no index file, not indexed"
		if res.DamagedIndexFiles > 0 {
			what = "listed by no index file that reads, not indexed"
		}
		if l.Blobs > 0 {
			kind, what = "warning", plural(l.Blobs, "blob")+" lost"
		} else if l.Listed {
			kind, what = "info", "nothing lost"
		}
		if l.Salvaged > 0 {
			what += ", " + plural(l.Salvaged, "blob") + " stored again"
		}
		msg := l.Reason
		if l.Detail != "" {
			msg += " (" + l.Detail + ")"
		}
		printStderr(fmt.Sprintf("%s: %s: %s; %s", kind, l.Cabinet, oneLine(msg), what))
	}
	if jsonOut {
		if err := printJSON(res); err != nil {
			return err
		}
	} else {
		summary := repairSummary(res)
		if res.Unchanged && !c.Bool("read-data") {
			summary += " (only --read-data reads the blobs themselves)"
		}
		fmt.Println(summary)
	}
	if res.BlobsLost > 0 {
		return errWarnings
	}
	return nil
}

// repairSummary is the one paragraph repair index ends with.
func repairSummary(res repo.RebuildResult) string {
	read := ""
	if res.CabinetsRead > 0 {
		read = fmt.Sprintf(" (%d read whole)", res.CabinetsRead)
	}
	if res.Unchanged {
		return fmt.Sprintf("the index already lists the %s of the %s that read%s: nothing to repair",
			plural(res.Blobs, "blob"), plural(res.CabinetsIndexed, "cabinet"), read)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rebuilt the index from %s%s: %s indexed from %s, written to %s; %s removed",
		plural(res.Cabinets, "cabinet"), read, plural(res.Blobs, "blob"), plural(res.CabinetsIndexed, "cabinet"),
		plural(res.IndexFilesWritten, "new index file"), plural(res.IndexFilesRemoved, "old index file"))
	if res.DamagedIndexFiles > 0 {
		fmt.Fprintf(&b, " (%d damaged)", res.DamagedIndexFiles)
	}
	counts := map[string][2]int{} // reason -> cabinets, blobs lost
	for _, l := range res.LeftOut {
		c := counts[l.Reason]
		counts[l.Reason] = [2]int{c[0] + 1, c[1] + l.Blobs}
	}
	var parts []string
	for _, r := range []struct{ reason, one, many string }{
		{repo.ReasonMissing, "missing cabinet", "missing cabinets"},
		{repo.ReasonUnreadableHeader, "cabinet whose header does not read", "cabinets whose header does not read"},
		{repo.ReasonDamagedBlobs, "cabinet with damaged blobs", "cabinets with damaged blobs"},
	} {
		if c := counts[r.reason]; c[0] > 0 {
			parts = append(parts, fmt.Sprintf("%s (%s lost)", counted(c[0], r.one, r.many), plural(c[1], "blob")))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "; left out: %s", strings.Join(parts, ", "))
	}
	if res.BlobsSalvaged > 0 {
		fmt.Fprintf(&b, "; %s of left-out cabinets stored again", plural(res.BlobsSalvaged, "blob"))
	}
	if res.BlobsLost > 0 {
		fmt.Fprintf(&b, ". %s lost: run 'cabinet backup' to store the files that used them again, then 'cabinet check' to see what is still missing",
			plural(res.BlobsLost, "blob"))
	} else {
		b.WriteString(". No blob the index listed was lost")
	}
	return b.String()
}
