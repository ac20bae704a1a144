package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/snapshot"
)

// CheckOptions choose how deep a check goes.
type CheckOptions struct {
	// ReadData decrypts and verifies every blob of every cabinet;
	// ReadDataSubset (0 < x < 1) does so for that fraction of cabinets,
	// chosen at random; ReadDataGroup n of ReadDataGroups t (1 <= n <= t
	// <= 256) for the cabinets whose name's first byte is n-1 modulo t,
	// so that checks of groups 1 to t read every cabinet once (restic's
	// --read-data-subset n/t).
	ReadData                      bool
	ReadDataSubset                float64
	ReadDataGroup, ReadDataGroups int
	// Report is called for every finding as it is made.
	Report func(Finding)
	// Progress is called after each cabinet read with (done, total).
	Progress func(done, total int)
}

// Finding is one result of a check.
type Finding struct {
	Error   bool     `json:"error"` // false: informational
	Object  string   `json:"object"`
	Message string   `json:"message"`
	Files   []string `json:"files,omitempty"` // files affected, "device session-time path"
}

// CheckResult summarises a check.
type CheckResult struct {
	Errors       int `json:"errors"`
	Infos        int `json:"infos"`
	Sessions     int `json:"sessions"`
	Trees        int `json:"trees"`
	Cabinets     int `json:"cabinets"`
	CabinetsRead int `json:"cabinets_read"`
	Blobs        int `json:"blobs"`
}

// Check verifies the repository: index against cabinets, every session's
// trees and the presence of every blob they name, and with ReadData the
// content of the cabinets. Damaged or missing blobs are traced to the files
// that use them.
func Check(ctx context.Context, r *repo.Repository, o CheckOptions) (CheckResult, error) {
	var res CheckResult
	report := func(f Finding) {
		if f.Error {
			res.Errors++
		} else {
			res.Infos++
		}
		if o.Report != nil {
			o.Report(f)
		}
	}
	bad := map[blob.ID]string{} // damaged or missing blob -> object that holds it
	err := r.CheckStructure(ctx, func(p repo.Problem) {
		if p.Severity == repo.Error && len(p.Blobs) > 0 {
			for _, b := range p.Blobs {
				bad[b] = p.Object
			}
			return // reported with the files it affects below
		}
		report(Finding{Error: p.Severity == repo.Error, Object: p.Object, Message: p.Message})
	})
	if err != nil {
		return res, err
	}
	packs := r.Index().Packs()
	res.Cabinets = len(packs)
	res.Blobs = r.Index().Len()
	if o.ReadData || o.ReadDataSubset > 0 || o.ReadDataGroups > 0 {
		sort.Slice(packs, func(i, j int) bool { return packs[i].String() < packs[j].String() })
		switch {
		case o.ReadDataGroups > 0:
			packs = slices.DeleteFunc(packs, func(p blob.ID) bool { return int(p[0])%o.ReadDataGroups != o.ReadDataGroup-1 })
		case o.ReadDataSubset > 0 && o.ReadDataSubset < 1 && len(packs) > 0:
			rand.Shuffle(len(packs), func(i, j int) { packs[i], packs[j] = packs[j], packs[i] })
			packs = packs[:max(1, int(float64(len(packs))*o.ReadDataSubset+0.5))]
		}
		for i, p := range packs {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			damaged, err := r.ReadCabinet(ctx, p)
			res.CabinetsRead++
			if err != nil {
				if len(damaged) == 0 {
					report(Finding{Error: true, Object: repo.PackName(p), Message: err.Error()})
				}
				for _, b := range damaged {
					bad[b] = repo.PackName(p) + ": " + err.Error()
				}
			}
			if o.Progress != nil {
				o.Progress(i+1, len(packs))
			}
		}
	}

	// Walk every session; trees are shared, so each is read once.
	affected := map[string][]string{} // object -> files
	sessions, err := snapshot.ListSessions(ctx, r, "", func(err error) {
		report(Finding{Error: true, Object: "session", Message: err.Error()})
	})
	if err != nil {
		return res, err
	}
	res.Sessions = len(sessions)
	seen := map[blob.ID]bool{}
	treesLost := false // a tree that could not be read may name damaged blobs
	for _, s := range sessions {
		label := fmt.Sprintf("%s %s", s.Device, s.Time.Local().Format(snapshot.TimeLayout))
		var walk func(id blob.ID, path string)
		walk = func(id blob.ID, path string) {
			if obj, ok := bad[id]; ok {
				treesLost = true
				affected[obj] = append(affected[obj], label+" "+path+"/")
				return
			}
			if !r.Index().Has(id) {
				treesLost = true
				report(Finding{Error: true, Object: "tree " + id.String(), Message: "tree blob is missing from the index", Files: []string{label + " " + path + "/"}})
				return
			}
			if seen[id] {
				return
			}
			seen[id] = true
			res.Trees++
			t, err := snapshot.LoadTree(ctx, r, id)
			if err != nil {
				treesLost = true
				report(Finding{Error: true, Object: "tree " + id.String(), Message: err.Error(), Files: []string{label + " " + path + "/"}})
				return
			}
			for i := range t.Nodes {
				n := &t.Nodes[i]
				p := path + "/" + n.Name
				switch n.Type {
				case snapshot.TypeDir:
					walk(n.Subtree, p)
				case snapshot.TypeFile:
					for _, c := range n.Content {
						if obj, ok := bad[c]; ok {
							affected[obj] = append(affected[obj], label+" "+p)
							break
						}
						if !r.Index().Has(c) {
							obj := "blob " + c.String()
							bad[c] = obj
							affected[obj] = append(affected[obj], label+" "+p)
							break
						}
					}
				}
			}
		}
		walk(s.Tree, "")
	}
	objs := map[string]bool{}
	for _, o := range bad {
		objs[o] = true
	}
	for obj := range objs {
		files := affected[obj]
		msg := "damaged or missing"
		if strings.HasPrefix(obj, "blob ") {
			msg = "blob is missing from the index"
		}
		lost := false
		if len(files) == 0 && treesLost {
			// Not "unused": the trees that would name it could not be read.
			msg += "; no readable tree names it, but a damaged tree (above) may"
			lost = true
		} else if len(files) == 0 {
			msg += "; no session uses it"
		} else if len(files) == 1 {
			msg += "; 1 file affected"
		} else {
			msg += fmt.Sprintf("; %d files affected", len(files))
		}
		report(Finding{Error: len(files) > 0 || lost, Object: obj, Message: msg, Files: files})
	}
	return res, nil
}
