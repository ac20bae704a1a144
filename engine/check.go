package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

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
// that use them, in every session and at every path. Once ctx is done no
// finding is reported (what fails then is not damage) and Check returns
// ctx's error.
func Check(ctx context.Context, r *repo.Repository, o CheckOptions) (CheckResult, error) {
	var res CheckResult
	report := func(f Finding) {
		if ctx.Err() != nil {
			return
		}
		if f.Error {
			res.Errors++
		} else {
			res.Infos++
		}
		if o.Report != nil {
			o.Report(f)
		}
	}
	// Damaged or missing blobs -> the object that loses them (a cabinet, a
	// tree, a blob missing from the index); what is wrong with each object.
	// They are reported last, with the files they affect.
	bad := map[blob.ID]string{}
	what := map[string]string{}
	reported := map[string]bool{} // errors reported without blobs
	readOnly := map[string]bool{} // cabinets only reading their blobs found damaged
	err := r.CheckStructure(ctx, func(p repo.Problem) {
		if p.Severity == repo.Error && len(p.Blobs) > 0 {
			for _, b := range p.Blobs {
				bad[b] = p.Object
			}
			what[p.Object] = p.Message
			return
		}
		msg := p.Message
		if p.Severity == repo.Error {
			reported[p.Object] = true
			msg += repairAdvice(p.Object, false)
		}
		report(Finding{Error: p.Severity == repo.Error, Object: p.Object, Message: msg})
	})
	if err == nil {
		err = ctx.Err()
	}
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
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.CabinetsRead++
			if obj := repo.PackName(p); err != nil && len(damaged) > 0 {
				for _, b := range damaged {
					bad[b] = obj
				}
				if _, seen := what[obj]; !seen {
					readOnly[obj] = true // not seen by the structure check
				}
				what[obj] = err.Error()
			} else if err != nil && !reported[obj] {
				reported[obj] = true
				report(Finding{Error: true, Object: obj, Message: err.Error() + repairAdvice(obj, true)})
			}
			if o.Progress != nil {
				o.Progress(i+1, len(packs))
			}
		}
	}

	sessions, err := loadSessions(ctx, r, report)
	if err != nil {
		return res, err
	}
	res.Sessions = len(sessions)
	names := snapshot.GroupTimeNames(sessions, time.Local)

	// Walk every session. A tree with nothing damaged below it is read
	// once; one with damage is walked again wherever it is named (in
	// another session, or twice in one), so that every file it loses is
	// named with every session and path that holds it.
	affected := map[string][]string{} // object -> files
	damageBelow := map[blob.ID]bool{} // trees walked
	treesLost := false                // a tree that could not be read may name damaged blobs
	lostTree := func(id blob.ID, msg, at string) {
		obj := "tree " + id.String()
		bad[id], what[obj], treesLost = obj, msg, true
		affected[obj] = append(affected[obj], at+"/")
	}
	var objs []string // the objects one file loses
	var walk func(id blob.ID, at string) bool
	walk = func(id blob.ID, at string) bool {
		if ctx.Err() != nil {
			return false
		}
		if obj, ok := bad[id]; ok {
			treesLost = true
			affected[obj] = append(affected[obj], at+"/")
			return true
		}
		below, walked := damageBelow[id]
		if walked && !below {
			return false
		}
		if !r.Index().Has(id) {
			lostTree(id, "tree blob is missing from the index", at)
			return true
		}
		if !walked {
			res.Trees++
		}
		t, err := snapshot.LoadTree(ctx, r, id)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			lostTree(id, err.Error(), at)
			return true
		}
		below = false
		for i := range t.Nodes {
			n := &t.Nodes[i]
			p := at + "/" + n.Name
			switch n.Type {
			case snapshot.TypeDir:
				if walk(n.Subtree, p) {
					below = true
				}
			case snapshot.TypeFile:
				objs = objs[:0]
				for _, c := range n.Content {
					obj, ok := bad[c]
					if !ok && !r.Index().Has(c) {
						obj, ok = "blob "+c.String(), true
						bad[c], what[obj] = obj, "blob is missing from the index"
					}
					if ok && !slices.Contains(objs, obj) {
						objs = append(objs, obj)
						affected[obj] = append(affected[obj], p)
					}
				}
				if len(objs) > 0 {
					below = true
				}
			}
		}
		damageBelow[id] = below
		return below
	}
	for i, s := range sessions {
		label := s.Device + " "
		if s.Source != snapshot.SourceFiles {
			label += s.Source + " "
		}
		walk(s.Tree, label+names[i]+" ")
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	lost := make([]string, 0, len(what))
	for obj := range what {
		lost = append(lost, obj)
	}
	sort.Strings(lost)
	for _, obj := range lost {
		files := affected[obj]
		msg := what[obj]
		switch {
		case len(files) == 0 && treesLost:
			// Not "unused": the trees that would name it could not be read.
			msg += "; no readable tree names it, but a damaged tree (above) may"
		case len(files) == 0:
			// Still an error: backups take its slices for stored and would
			// name them in new sessions.
			msg += "; no session uses it yet, but backups take its slices for stored"
		case len(files) == 1:
			msg += "; 1 file affected"
		default:
			msg += fmt.Sprintf("; %d files affected", len(files))
		}
		report(Finding{Error: true, Object: obj, Message: msg + repairAdvice(obj, readOnly[obj]), Files: files})
	}
	return res, nil
}

// repairAdvice is what to do about the damaged or missing object obj, if
// it is a cabinet: the index must stop listing the blobs lost before a
// backup stores them again (it takes what the index lists for stored).
// Damage only reading the blobs finds needs a repair that reads them.
func repairAdvice(obj string, readData bool) string {
	if !strings.HasPrefix(obj, repo.DataDir+"/") {
		return ""
	}
	if readData {
		return "; run 'cabinet repair index --read-data', then 'cabinet backup' to store the files again"
	}
	return "; run 'cabinet repair index', then 'cabinet backup' to store the files again"
}

// loadSessions loads every session, sorted by time; a session object that
// cannot be read is an error finding naming it.
func loadSessions(ctx context.Context, r *repo.Repository, report func(Finding)) ([]*snapshot.Session, error) {
	devices, err := r.Devices(ctx)
	if err != nil {
		return nil, err
	}
	var out []*snapshot.Session
	for _, d := range devices {
		refs, err := r.SessionRefs(ctx, d)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			s, err := snapshot.LoadSession(ctx, r, ref)
			if err != nil {
				report(Finding{Error: true, Object: ref.Path(), Message: err.Error()})
				continue
			}
			out = append(out, s)
		}
	}
	snapshot.SortSessions(out)
	return out, ctx.Err()
}
