package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/blob"
)

// TestTreeCabinetDamageCostsOneTree: a byte flipped in one tree of a
// tree cabinet damages that tree only. The cabinet is read whole and its
// name no longer matches its bytes; every tree in it was refused, intact
// ones too (for restore, mount and check alike), though each is sealed on
// its own.
func TestTreeCabinetDamageCostsOneTree(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t)
	var ids []blob.ID
	_, err := r.Write(ctx, func(ctx context.Context, w *Writer) error {
		for i := range 5 {
			id, _, err := w.SaveBlob(ctx, blob.Tree, []byte(fmt.Sprintf(`{"nodes":[{"name":"file %d"}]}`, i)))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	damaged, _ := r.Index().Lookup(ids[2])
	for _, id := range ids {
		if loc, _ := r.Index().Lookup(id); loc.Pack != damaged.Pack {
			t.Fatal("the trees are in more than one cabinet")
		}
	}
	p := filepath.Join(dir, filepath.FromSlash(PackName(damaged.Pack)))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[damaged.Offset+damaged.Length/2] ^= 1
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	o := reopenIndexed(t, dir) // no copy of the cabinet in memory or cache
	for i, id := range ids {
		_, err := o.LoadBlob(ctx, id, nil)
		switch {
		case i == 2 && !errors.Is(err, ErrDamaged):
			t.Errorf("damaged tree: %v", err)
		case i != 2 && err != nil:
			t.Errorf("intact tree %d of the damaged cabinet: %v", i, err)
		}
	}
}
