package repo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
)

// vanishingKeys lists one key file more than its folder holds: one that
// another process removed (key remove, key passwd) after the listing.
type vanishingKeys struct {
	*local.Backend
}

func (b vanishingKeys) List(ctx context.Context, dir string, fn func(backend.FileInfo) error) error {
	if dir == KeysDir {
		if err := fn(backend.FileInfo{Name: strings.Repeat("0", 64), Size: 300}); err != nil {
			return err
		}
	}
	return b.Backend.List(ctx, dir, fn)
}

// A key file removed between listing the keys and reading it is skipped:
// opening the repository (a backup starting while a key passwd runs) and
// key list failed with its "not found".
func TestReviewKeysRemovedWhileListed(t *testing.T) {
	ctx := context.Background()
	_, dir := newTestRepo(t)
	be := vanishingKeys{local.New(dir)}
	r, err := Open(ctx, be, []byte("pw"), Options{})
	if err != nil {
		t.Fatalf("open while a key was removed: %v", err)
	}
	defer r.Close()
	keys, err := r.Keys(ctx)
	if err != nil {
		t.Fatalf("keys while a key was removed: %v", err)
	}
	if len(keys) != 1 || !keys[0].Current {
		t.Fatalf("keys: %+v, want the one in use", keys)
	}
	if _, err := Open(ctx, be, []byte("wrong"), Options{}); !errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrDamaged) {
		t.Fatalf("open with a wrong password while a key was removed: %v", err)
	}
}
