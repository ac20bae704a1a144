//go:build linux

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestReviewRepairConcurrentBackup runs repair index over and over while
// backups of new data run (each writes many cabinets and index files: the
// repair meets cabinets no index file lists yet, and index files written
// after its listing), and backups while repairs with --read-data run.
// There are no locks: afterwards every session must restore identical to
// its source, and check --read-data must pass.
func TestReviewRepairConcurrentBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e := newEnv(t)
	const rounds = 6
	srcs := make([]string, rounds)
	for i := range rounds {
		srcs[i] = filepath.Join(e.dir, fmt.Sprintf("src%d", i))
		for j := range 40 {
			coreWrite(t, filepath.Join(srcs[i], fmt.Sprintf("f%02d.bin", j)), coreRandom(int64(1000*i+j), 3<<20+j), 0o644)
		}
		for j := range 50 {
			coreWrite(t, filepath.Join(srcs[i], "small", fmt.Sprintf("s%02d.txt", j)), []byte(strings.Repeat(fmt.Sprintf("round %d small %d\n", i, j), 100)), 0o644)
		}
	}
	for i := range rounds {
		var mu sync.Mutex
		repairs, rewrites := 0, 0
		backup := backupDuringRepairs(e, i, []string{"--device", fmt.Sprintf("dev%d", i), srcs[i]}, func(r result) {
			var res repairResult
			err := json.Unmarshal([]byte(r.stdout), &res)
			mu.Lock()
			repairs++
			if res.IndexFilesRemoved > 0 {
				rewrites++
			}
			mu.Unlock()
			if r.code != 0 || err != nil {
				t.Errorf("round %d: a repair during a backup: %v %s", i, err, r)
			}
		})
		if backup.code != 0 {
			t.Errorf("round %d: backup during repairs: %s", i, backup)
		}
		t.Logf("round %d: %d repairs during the backup, %d removed index files", i, repairs, rewrites)
	}
	// Everything the backups stored is indexed and whole.
	r := e.run("check", "--read-data")
	if r.code != 0 {
		t.Errorf("check --read-data after backups and repairs: %s", r)
	}
	for i := range rounds {
		target := filepath.Join(e.dir, fmt.Sprintf("restore%d", i))
		res := e.run("restore", "--device", fmt.Sprintf("dev%d", i), "--target", target, "latest")
		if res.code != 0 {
			t.Errorf("restore of round %d: %s", i, res)
			continue
		}
		coreDiff(t, srcs[i], coreRestored(target, srcs[i]))
	}
	// Two repairs at once each keep the index files the other wrote, so
	// a repair afterwards may merge them (losing nothing); the one after
	// it finds the index right.
	if res := repairJSON(t, e, 0, "--read-data"); res.BlobsLost != 0 || len(res.LeftOut) != 0 {
		t.Errorf("repair after all: %+v, want nothing left out", res)
	}
	if res := repairJSON(t, e, 0, "--read-data"); !res.Unchanged {
		t.Errorf("second repair after all: %+v, want nothing to do", res)
	}
	e.mustCheck()
}

// TestReviewRepairConcurrentBackupDamaged: a cabinet of the first session
// is deleted; then backups of one device (the same register), each of the
// damaged files and new data, run while repairs do. A backup that began
// before a repair removed the old index files takes the lost slices for
// stored (as any backup before a repair does), so its register entries
// must not be trusted later: after one more repair and one more backup,
// run alone, every session restores identical to its source and check
// --read-data passes (the lost slices are stored again under their names).
func TestReviewRepairConcurrentBackupDamaged(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e := newEnv(t)
	common := filepath.Join(e.dir, "common")
	for j := range 6 {
		coreWrite(t, filepath.Join(common, fmt.Sprintf("c%d.bin", j)), coreRandom(int64(50+j), 4<<20), 0o644)
	}
	before := coreRepoFiles(t, e, "")
	coreBackup(t, e, 0, "--quiet", common)
	added := coreNewFiles(before, coreRepoFiles(t, e, ""))
	lostCab := coreFirstWithPrefix(t, added, "data/")
	if err := os.Remove(filepath.Join(e.repo, lostCab)); err != nil {
		t.Fatal(err)
	}

	const rounds = 4
	srcs := make([]string, rounds)
	for i := range rounds {
		srcs[i] = filepath.Join(e.dir, fmt.Sprintf("src%d", i))
		for j := range 30 {
			coreWrite(t, filepath.Join(srcs[i], fmt.Sprintf("f%02d.bin", j)), coreRandom(int64(1000*i+j), 3<<20+j), 0o644)
		}
	}
	for i := range rounds {
		backup := backupDuringRepairs(e, i, []string{common, srcs[i]}, func(r result) {
			if r.code != 0 && r.code != 3 {
				t.Errorf("round %d: a repair during a backup: %s", i, r)
			}
		})
		if backup.code != 0 {
			t.Errorf("round %d: backup during repairs: %s", i, backup)
		}
	}
	if r := e.run("repair", "index", "--quiet"); r.code != 0 && r.code != 3 {
		t.Fatalf("repair after the rounds: %s", r)
	}
	coreBackup(t, e, 0, "--quiet", common, srcs[rounds-1])
	if r := e.run("check", "--read-data"); r.code != 0 {
		t.Errorf("check --read-data after a repair and a backup: %s", r)
	}
	for i, s := range coreSessions(t, e) {
		target := filepath.Join(e.dir, fmt.Sprintf("restore%d", i))
		if r := e.run("restore", "--target", target, s.ShortID); r.code != 0 {
			t.Errorf("restore of session %s: %s", s.ShortID, r)
			continue
		}
		coreDiff(t, common, coreRestored(target, common))
	}
}

// backupDuringRepairs runs 'backup --quiet args' while two loops of
// 'repair index --json' (one of them with --read-data, which one changing
// with round) run until it ends, each repair's result given to repaired,
// and returns the backup's result.
func backupDuringRepairs(e *env, round int, args []string, repaired func(result)) result {
	var wg sync.WaitGroup
	var backup result
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		backup = e.run(append([]string{"backup", "--quiet"}, args...)...)
	}()
	for k := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repair := []string{"repair", "index", "--json", "--quiet"}
			if (round+k)%2 == 0 {
				repair = append(repair, "--read-data")
			}
			for {
				select {
				case <-done:
					return
				default:
				}
				repaired(e.run(repair...))
			}
		}()
	}
	wg.Wait()
	return backup
}
