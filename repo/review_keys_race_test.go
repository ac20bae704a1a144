package repo

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend/local"
)

// deleteBarrier holds each Delete of a key file until n of them have
// deleted: removals run by several processes at once.
type deleteBarrier struct {
	*local.Backend
	wg *sync.WaitGroup
}

func (b deleteBarrier) Delete(ctx context.Context, name string) error {
	err := b.Backend.Delete(ctx, name)
	if strings.HasPrefix(name, KeysDir+"/") {
		b.wg.Done()
		b.wg.Wait()
	}
	return err
}

// Two key removes at once, each opened with the key the other removes,
// must not leave the repository without a key. Both succeeded and it had
// none: no password opened it any more.
func TestReviewKeysConcurrentRemoveKeepsAKey(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	if _, err := r.AddKey(ctx, []byte("second"), KeyOptions{KDF: cheapKDF}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	var opened []*Repository
	for _, pw := range []string{"pw", "second"} {
		o, err := Open(ctx, deleteBarrier{local.New(dir), &wg}, []byte(pw), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		opened = append(opened, o)
	}
	errs := make([]error, 2)
	var done sync.WaitGroup
	for i, o := range opened {
		other := opened[1-i].KeyID()
		done.Add(1)
		go func() {
			defer done.Done()
			_, errs[i] = o.RemoveKey(ctx, other[:8])
		}()
	}
	done.Wait()
	if errs[0] == nil && errs[1] == nil {
		t.Errorf("both removes succeeded")
	}
	opens := 0
	for _, pw := range []string{"pw", "second"} {
		if o, err := Open(ctx, local.New(dir), []byte(pw), Options{}); err == nil {
			opens++
			o.Close()
		}
	}
	if opens == 0 {
		t.Fatalf("no password opens the repository after two removes at once (errors %v, %v)", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil && !strings.Contains(err.Error(), "meanwhile") {
			t.Errorf("a remove undone says: %v", err)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, KeysDir, ".tmp-*")); len(matches) != 0 {
		t.Errorf("left-over temporary files: %q", matches)
	}
}
