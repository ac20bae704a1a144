package repo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cabinetbackup/cabinet/repo/backend"
	"github.com/cabinetbackup/cabinet/repo/crypto"
)

// KeysDir is the folder of key files.
const KeysDir = "keys"

// KeyFile is one password's wrapping of the master key.
type KeyFile struct {
	KDF      string           `json:"kdf"`
	Params   crypto.KDFParams `json:"params"`
	Salt     []byte           `json:"salt"`
	Master   []byte           `json:"master"`
	Created  time.Time        `json:"created"`
	Hostname string           `json:"hostname,omitempty"`
	Username string           `json:"username,omitempty"`
}

// KeyInfo describes a stored key for listing.
type KeyInfo struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Hostname string    `json:"hostname"`
	Username string    `json:"username"`
	Current  bool      `json:"current"`
	// Damaged says why the key file cannot be read (it can still be
	// removed); empty for a good one.
	Damaged string `json:"damaged,omitempty"`
}

// KeyOptions describe a key being added.
type KeyOptions struct {
	KDF      crypto.KDFParams // zero: crypto.DefaultKDF()
	Hostname string
	Username string
	Now      time.Time
}

// DecodeKeyFile parses a key file.
func DecodeKeyFile(data []byte) (*KeyFile, error) {
	var kf KeyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("%w: key file: %v", ErrDamaged, jsonProblem(err))
	}
	if kf.KDF != "argon2id" {
		return nil, fmt.Errorf("%w: key file: unknown KDF %q", ErrDamaged, kf.KDF)
	}
	if len(kf.Salt) < 16 || len(kf.Master) != crypto.MasterKeySize+crypto.Overhead {
		return nil, fmt.Errorf("%w: key file: salt or wrapped key has the wrong size", ErrDamaged)
	}
	if err := checkKDF(kf.Params); err != nil {
		// A crafted key file must not make every open spend gigabytes and
		// minutes before it fails.
		return nil, fmt.Errorf("%w: key file: %v", ErrDamaged, err)
	}
	return &kf, nil
}

// The largest argon2id costs a key file may ask for: 33x and 32x the
// defaults' (crypto.DefaultKDF).
const maxKDFTime, maxKDFMemory = 100, 1 << 20

func checkKDF(p crypto.KDFParams) error {
	if p.Time < 1 || p.Time > maxKDFTime || p.Memory < 8 || p.Memory > maxKDFMemory || p.Threads < 1 {
		return fmt.Errorf("argon2id costs time %d, memory %d KiB, threads %d out of bounds (time 1-%d, memory 8-%d KiB, threads 1 or more)",
			p.Time, p.Memory, p.Threads, maxKDFTime, maxKDFMemory)
	}
	return nil
}

// unwrap returns the master key if password opens kf.
func (kf *KeyFile) unwrap(password []byte, idHash crypto.IDHash) (*crypto.Key, error) {
	aead, err := crypto.PasswordAEAD(password, kf.Salt, kf.Params)
	if err != nil {
		return nil, err
	}
	m, err := crypto.OpenWith(aead, nil, kf.Master)
	if err != nil {
		return nil, ErrWrongPassword
	}
	var master [crypto.MasterKeySize]byte
	copy(master[:], m)
	return crypto.KeyFromMaster(master, idHash)
}

func wrapKey(key *crypto.Key, password []byte, o KeyOptions) ([]byte, string, error) {
	if o.KDF == (crypto.KDFParams{}) {
		o.KDF = crypto.DefaultKDF()
	}
	if err := checkKDF(o.KDF); err != nil {
		return nil, "", err
	}
	kf := KeyFile{KDF: "argon2id", Params: o.KDF, Salt: make([]byte, 32), Created: o.Now.UTC(), Hostname: o.Hostname, Username: o.Username}
	if _, err := rand.Read(kf.Salt); err != nil {
		return nil, "", err
	}
	aead, err := crypto.PasswordAEAD(password, kf.Salt, o.KDF)
	if err != nil {
		return nil, "", err
	}
	kf.Master = crypto.SealWith(aead, nil, key.Master[:])
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:]), nil
}

// unlock tries every key file with password and returns the master key
// that opens cfg's sealed parameters (which it reads into cfg), and the ID
// of its key. A key that opens with password but not the config is left
// over from an init that was stopped before it wrote the config and then
// run again: the next key is tried.
func unlock(ctx context.Context, be backend.Backend, password []byte, cfg *Config) (*crypto.Key, string, error) {
	var names []string
	if err := be.List(ctx, KeysDir, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		return nil, "", fmt.Errorf("list keys: %w", err)
	}
	if len(names) == 0 {
		return nil, "", cannotOpen(fmt.Errorf("%w: the repository has no key files (keys/ is empty or missing)", ErrDamaged))
	}
	sort.Strings(names)
	var damaged, configErr error
	for _, n := range names {
		data, err := be.Get(ctx, KeysDir+"/"+n, 0, 0)
		if errors.Is(err, backend.ErrNotFound) {
			continue // removed since the listing (key remove or passwd elsewhere)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", err
			}
			damaged = fmt.Errorf("keys/%s: %w", n, err)
			continue
		}
		// Key files are named by the SHA-256 of their bytes: a damaged one
		// must be reported as damaged, not as a wrong password.
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != n {
			damaged = fmt.Errorf("keys/%s: %w: key file content does not match its name (damaged or truncated file)", n, ErrDamaged)
			continue
		}
		kf, err := DecodeKeyFile(data)
		if err != nil {
			damaged = fmt.Errorf("keys/%s: %w", n, err)
			continue
		}
		key, err := kf.unwrap(password, cfg.IDHash())
		if errors.Is(err, ErrWrongPassword) {
			continue
		}
		if err != nil {
			damaged = fmt.Errorf("keys/%s: %w", n, err)
			continue
		}
		if err := cfg.openParams(key); err != nil {
			configErr = err
			continue
		}
		return key, n, nil
	}
	switch {
	case configErr != nil:
		return nil, "", cannotOpen(configErr) // a key opened, the config did not
	case damaged != nil && len(names) == 1:
		return nil, "", cannotOpen(damaged)
	case damaged != nil:
		// The password may be the damaged key's.
		return nil, "", fmt.Errorf("%w; %w", ErrWrongPassword, damaged)
	}
	return nil, "", ErrWrongPassword
}

// AddKey stores a new key file wrapping the master key with password.
func (r *Repository) AddKey(ctx context.Context, password []byte, o KeyOptions) (string, error) {
	data, id, err := wrapKey(r.key, password, o)
	if err != nil {
		return "", err
	}
	return id, r.be.Put(ctx, KeysDir+"/"+id, data)
}

// Keys lists the repository's key files, damaged ones too (so they can be
// removed).
func (r *Repository) Keys(ctx context.Context) ([]KeyInfo, error) {
	var out []KeyInfo
	err := r.be.List(ctx, KeysDir, func(fi backend.FileInfo) error {
		data, err := r.be.Get(ctx, KeysDir+"/"+fi.Name, 0, 0)
		if errors.Is(err, backend.ErrNotFound) {
			return nil // removed since the listing
		}
		if err != nil && ctx.Err() != nil {
			return err
		}
		info := KeyInfo{ID: fi.Name, Current: fi.Name == r.keyID}
		kf, derr := DecodeKeyFile(data)
		if err != nil {
			info.Damaged = "cannot be read: " + err.Error()
		} else if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != fi.Name {
			info.Damaged = "content does not match its name (damaged or truncated file)"
		} else if derr != nil {
			info.Damaged = derr.Error()
		} else {
			info.Created, info.Hostname, info.Username = kf.Created, kf.Hostname, kf.Username
		}
		out = append(out, info)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

// RemoveKey deletes a key file, found by ID or unique ID prefix. The key
// that opened this repository cannot be removed, so a repository never
// loses its last key.
func (r *Repository) RemoveKey(ctx context.Context, idPrefix string) (string, error) {
	keys, err := r.Keys(ctx)
	if err != nil {
		return "", err
	}
	var match []string
	for _, k := range keys {
		if len(idPrefix) > 0 && len(k.ID) >= len(idPrefix) && k.ID[:len(idPrefix)] == idPrefix {
			match = append(match, k.ID)
		}
	}
	switch {
	case len(match) == 0:
		return "", fmt.Errorf("no key with ID %q: see 'cabinet key list'", idPrefix)
	case len(match) > 1:
		return "", fmt.Errorf("key ID prefix %q is ambiguous (%d keys): give more digits", idPrefix, len(match))
	case match[0] == r.keyID:
		return "", fmt.Errorf("key %s is the one in use: open the repository with another password to remove it", match[0][:8])
	}
	id := match[0]
	// Kept to put it back; a key that cannot be read opens nothing and
	// is not.
	data, err := r.be.Get(ctx, KeysDir+"/"+id, 0, 0)
	if err != nil {
		data = nil
	}
	if err := r.be.Delete(ctx, KeysDir+"/"+id); err != nil {
		return "", err
	}
	// Another cabinet opened with the key removed here may have removed
	// the one in use meanwhile (two key removes at once, each of the
	// other's key): both succeeded and the repository had no key left.
	// Whichever of them finds its own key gone puts back what it removed.
	if _, err := r.be.Stat(ctx, KeysDir+"/"+r.keyID); errors.Is(err, backend.ErrNotFound) && data != nil {
		if err := r.be.Put(ctx, KeysDir+"/"+id, data); err != nil {
			return "", fmt.Errorf("key %s in use was removed meanwhile by another cabinet, and putting back the removed key %s failed: %w", r.keyID[:8], shortID(id), err)
		}
		return "", fmt.Errorf("key %s in use was removed meanwhile by another cabinet: key %s is kept, so the repository keeps a key; see 'cabinet key list'", r.keyID[:8], shortID(id))
	}
	return id, nil
}

// shortID is the first 8 characters of a key ID, as key list shows it.
func shortID(id string) string { return id[:min(8, len(id))] }

// ChangePassword adds a key for newPassword and removes the key in use.
func (r *Repository) ChangePassword(ctx context.Context, newPassword []byte, o KeyOptions) (string, error) {
	return r.ChangePasswordThen(ctx, newPassword, o, nil)
}

// ChangePasswordThen is ChangePassword that calls added, when not nil,
// with the new key's ID between adding it and removing the key in use:
// where the old password is kept (a password file) is updated there, so
// that whenever the change stops, the kept password opens a key. An error
// from added leaves both keys and is returned.
func (r *Repository) ChangePasswordThen(ctx context.Context, newPassword []byte, o KeyOptions, added func(id string) error) (string, error) {
	id, err := r.AddKey(ctx, newPassword, o)
	if err != nil {
		return "", err
	}
	if added != nil {
		if err := added(id); err != nil {
			return id, fmt.Errorf("new key %s added, the old key %s kept: %w", id[:8], r.keyID[:8], err)
		}
	}
	old := r.keyID
	if err := r.be.Delete(ctx, KeysDir+"/"+old); err != nil {
		return id, fmt.Errorf("new key %s added, but removing old key %s failed: %w", id[:8], old[:8], err)
	}
	r.keyID = id
	return id, nil
}

// KeyID returns the ID of the key that opened the repository.
func (r *Repository) KeyID() string { return r.keyID }
