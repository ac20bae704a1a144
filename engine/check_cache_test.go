package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/snapshot"
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

// A damaged data cabinet under a damaged tree is an error, not a note that
// no session uses it: the tree that names it could not be read.
func TestCheckDamagedDataUnderDamagedTree(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := repo.Create(ctx, local.New(dir), []byte("pw"),
		repo.CreateOptions{Key: repo.KeyOptions{KDF: crypto.KDFParams{Time: 1, Memory: 1024, Threads: 1}}}, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "only.txt"), []byte("the only file"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Backup(ctx, r, BackupOptions{Device: "dev", Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := snapshot.FindPath(ctx, r, s.Tree, filepath.Join(src, "only.txt"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(id blobID) {
		loc, _ := r.Index().Lookup(id)
		p := filepath.Join(dir, filepath.FromSlash(repo.PackName(loc.Pack)))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[loc.Offset+20] ^= 1
		os.Chmod(p, 0o600)
		if err := os.WriteFile(p, data, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	flip(n.Content[0])
	flip(s.Tree)
	r.Close()
	o, err := repo.Open(ctx, local.New(dir), []byte("pw"), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var findings []Finding
	if _, err := Check(ctx, o, CheckOptions{ReadData: true, Report: func(f Finding) { findings = append(findings, f) }}); err != nil {
		t.Fatal(err)
	}
	dataErr := false
	for _, f := range findings {
		if strings.HasPrefix(f.Object, repo.DataDir+"/") && strings.Contains(f.Message, "damaged tree") {
			dataErr = f.Error
		}
	}
	if !dataErr {
		t.Errorf("the damaged data cabinet is not an error naming the damaged tree: %+v", findings)
	}
}
