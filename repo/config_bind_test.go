package repo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend/local"
)

// The config's readable format version is bound to its sealed part: one
// flipped bit turns '3' (0x33) into '2' (0x32), and the repository opened
// as format 2, naming the same data with another hash (every blob stored
// again, every intact one reported damaged by check --read-data).
func TestConfigVersionFlipIsDamage(t *testing.T) {
	ctx := context.Background()
	for _, field := range []string{`"format_version": 3`, `"id": "`} {
		dir := filepath.Join(t.TempDir(), "repo")
		r, err := Create(ctx, local.New(dir), []byte("pw"), CreateOptions{Key: KeyOptions{KDF: cheapKDF}, formatVersion: 3}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		p := filepath.Join(dir, ConfigFile)
		cfg, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(cfg, []byte(field))
		if i < 0 {
			t.Fatalf("no %s in config: %s", field, cfg)
		}
		cfg[i+len(field)] ^= 1 // '3' -> '2', or the ID's first digit
		os.Chmod(p, 0o600)
		if err := os.WriteFile(p, cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := Open(ctx, local.New(dir), []byte("pw"), Options{})
		if err == nil {
			o.Close()
			t.Errorf("%s: a config with a flipped bit opened (format %d)", field, o.Config().FormatVersion)
		} else if !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: %v, want damage", field, err)
		}
	}
}
