//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestReviewKeysConcurrentInit: two inits of one location at once, each
// with its own password, make one repository: one succeeds, the other
// fails, and the password of the one that succeeded opens it. Both
// reported "created" and the config of one replaced the other's: its
// user's password then met a config it could not open (exit 13).
func TestReviewKeysConcurrentInit(t *testing.T) {
	e := newEnv(t)
	for round := range 4 {
		loc := filepath.Join(e.dir, fmt.Sprintf("repo-%d", round))
		results := make([]result, 2)
		envs := make([]*env, 2)
		var wg sync.WaitGroup
		for i := range envs {
			pw := filepath.Join(e.dir, fmt.Sprintf("pw-%d-%d", round, i))
			if err := os.WriteFile(pw, []byte(fmt.Sprintf("password %d\n", i)), 0o600); err != nil {
				t.Fatal(err)
			}
			c := *e
			c.repo, c.pwFile = loc, pw
			envs[i] = &c
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = envs[i].run("init")
			}()
		}
		wg.Wait()
		won := -1
		for i, r := range results {
			if r.code == 0 {
				if won >= 0 {
					t.Fatalf("round %d: both inits succeeded:\n%s\n%s", round, results[0], results[1])
				}
				won = i
				continue
			}
			if r.code != 1 {
				t.Fatalf("round %d: init that lost exits %d, want 1:\n%s", round, r.code, r)
			}
			coreOneLine(t, r.stderr, loc)
		}
		if won < 0 {
			t.Fatalf("round %d: no init succeeded:\n%s\n%s", round, results[0], results[1])
		}
		envs[won].mustRun("sessions")
		envs[1-won].expectCode(12, "sessions")
		envs[won].mustCheck()
		if left, _ := filepath.Glob(filepath.Join(loc, ".tmp-*")); len(left) != 0 {
			t.Errorf("round %d: init left %q", round, left)
		}
	}
}
