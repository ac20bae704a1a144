package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/crypto"
)

// A bit flipped in a tree cabinet of the repository is found by check on
// the machine that made the backup too, whose cache holds a good copy:
// check reads trees from the repository, as a restore elsewhere would.
func TestCheckReadsTreesFromTheRepository(t *testing.T) {
	ctx := context.Background()
	dir, cache := filepath.Join(t.TempDir(), "repo"), t.TempDir()
	r, err := repo.Create(ctx, local.New(dir), []byte("pw"),
		repo.CreateOptions{Key: repo.KeyOptions{KDF: crypto.KDFParams{Time: 1, Memory: 1024, Threads: 1}}}, repo.Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeTree(t, src)
	s, err := Backup(ctx, r, BackupOptions{Device: "dev", Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := r.Index().Lookup(s.Tree)
	r.Close()
	p := filepath.Join(dir, filepath.FromSlash(repo.PackName(loc.Pack)))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[loc.Offset+20] ^= 1 // inside the root tree's blob
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o400); err != nil {
		t.Fatal(err)
	}
	for _, cacheDir := range []string{"", cache} {
		o, err := repo.Open(ctx, local.New(dir), []byte("pw"), repo.Options{CacheDir: cacheDir})
		if err != nil {
			t.Fatal(err)
		}
		res, err := Check(ctx, o, CheckOptions{})
		o.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors == 0 {
			t.Errorf("check with cache %q found no error in a damaged tree cabinet", cacheDir)
		}
	}
}
