package repo

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend/local"
	"github.com/cabinetbackup/cabinet/repo/crypto"
)

// init stopped after its key file and before the config, then run again
// with the same password (the password file, or the generated default
// one): the left-over key opens with the password but not the config, and
// Open goes on to the key that does. It failed in about one run of four
// (whichever key file sorted first).
func TestOpenAfterInitRunTwice(t *testing.T) {
	ctx := context.Background()
	for i := range 8 {
		dir := filepath.Join(t.TempDir(), "repo")
		r, err := Create(ctx, local.New(dir), []byte("pw"), CreateOptions{Key: KeyOptions{KDF: cheapKDF}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if err := os.Remove(filepath.Join(dir, ConfigFile)); err != nil { // where a kill between the two writes leaves it
			t.Fatal(err)
		}
		r, err = Create(ctx, local.New(dir), []byte("pw"), CreateOptions{Key: KeyOptions{KDF: cheapKDF}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		o, err := Open(ctx, local.New(dir), []byte("pw"), Options{})
		if err != nil {
			t.Fatalf("run %d: open after init ran twice: %v", i, err)
		}
		o.Close()
	}
}

// A damaged key file is listed as damaged and can be removed; its
// password, with another key present, reads as a wrong password that
// names the damaged key.
func TestDamagedKeyListedAndRemoved(t *testing.T) {
	ctx := context.Background()
	for _, damage := range []string{"truncated", "bit flip"} {
		t.Run(damage, func(t *testing.T) {
			r, dir := newTestRepo(t)
			id, err := r.AddKey(ctx, []byte("second"), KeyOptions{KDF: cheapKDF})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, KeysDir, id)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if damage == "truncated" {
				data = data[:len(data)/2]
			} else {
				data[len(data)/2] ^= 1
			}
			os.Chmod(p, 0o600)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}

			_, err = Open(ctx, local.New(dir), []byte("second"), Options{})
			if !errors.Is(err, ErrWrongPassword) || !errors.Is(err, ErrDamaged) {
				t.Errorf("open with the damaged key's password: %v; want a wrong password that names the damaged key", err)
			}

			keys, err := r.Keys(ctx)
			if err != nil {
				t.Fatalf("keys: %v", err)
			}
			found := false
			for _, k := range keys {
				if k.ID == id {
					found = k.Damaged != ""
				} else if k.Damaged != "" {
					t.Errorf("good key %s listed as damaged: %s", k.ID[:8], k.Damaged)
				}
			}
			if !found {
				t.Errorf("damaged key %s not listed as damaged: %+v", id[:8], keys)
			}
			if _, err := r.RemoveKey(ctx, id[:8]); err != nil {
				t.Fatalf("remove the damaged key: %v", err)
			}
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("damaged key file still there: %v", err)
			}
			if o, err := Open(ctx, local.New(dir), []byte("pw"), Options{}); err != nil {
				t.Errorf("open with the good key after the removal: %v", err)
			} else {
				o.Close()
			}
		})
	}
}

// A key file asking argon2id for more than 1 GiB or 100 passes is refused
// as damaged before any work: a crafted one made every open spend them.
func TestKeyFileKDFBounds(t *testing.T) {
	for _, tc := range []struct {
		time, memory uint32
		threads      uint8
		ok           bool
	}{
		{3, 32 << 10, 2, true},
		{maxKDFTime, maxKDFMemory, 4, true},
		{maxKDFTime + 1, 32 << 10, 2, false},
		{3, maxKDFMemory + 1, 2, false},
		{0, 32 << 10, 2, false},
		{3, 4, 2, false},
		{3, 32 << 10, 0, false},
	} {
		kdf := crypto.KDFParams{Time: tc.time, Memory: tc.memory, Threads: tc.threads}
		data, err := json.Marshal(KeyFile{KDF: "argon2id", Params: kdf, Salt: make([]byte, 32), Master: make([]byte, crypto.MasterKeySize+crypto.Overhead)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeKeyFile(data)
		if ok := err == nil; ok != tc.ok {
			t.Errorf("%+v: %v, want ok %v", kdf, err, tc.ok)
		} else if !ok && !errors.Is(err, ErrDamaged) {
			t.Errorf("%+v: %v, want damage", kdf, err)
		}
	}
}
