package repo

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/zeebo/blake3"

	"github.com/cabinetbackup/cabinet/repo/chunker"
	"github.com/cabinetbackup/cabinet/repo/crypto"
	"github.com/cabinetbackup/cabinet/repo/pack"
)

// FormatVersion is the repository format this package creates. It reads
// and writes formats 2 to 4 as well: format 4 stores every blob sealed on
// its own (no bundles), format 3 also names cabinets with SHA-256 instead
// of BLAKE3, format 2 also names blobs with HMAC-SHA-256 instead of keyed
// BLAKE3.
const FormatVersion = 5

// oldestVersion is the oldest repository format this package reads.
const oldestVersion = 2

// readsVersion reports whether this package reads format version v.
func readsVersion(v int) bool { return v >= oldestVersion && v <= FormatVersion }

// bundlesIn reports whether format version v stores small data blobs in
// bundles.
func bundlesIn(v int) bool { return v >= 5 }

// cabinetHashOf is the hash that names cabinets in format version v.
// BLAKE3 hashes 3.9 GB/s a core here against SHA-256's 2.0 (SHA-NI, 1 MiB
// buffers): naming a cabinet of incompressible data took a fifth of a
// backup's CPU.
func cabinetHashOf(v int) pack.NameHash {
	if v < 4 {
		return sha256.New
	}
	return func() hash.Hash { return blake3.New() }
}

// idHashOf is the blob ID hash of format version v.
func idHashOf(v int) crypto.IDHash {
	if v == 2 {
		return crypto.IDHMACSHA256
	}
	return crypto.IDBLAKE3
}

// ConfigFile is the name of the config object.
const ConfigFile = "config"

// Errors callers map to exit codes and messages.
var (
	// ErrNoRepository: the location holds no repository (no config file).
	ErrNoRepository = errors.New("no cabinet repository here")
	// ErrWrongPassword: no key file opens with the given password.
	ErrWrongPassword = errors.New("wrong password: no key of the repository opens with it")
	// ErrVersion: the repository's format version is not one this program reads.
	ErrVersion = errors.New("unsupported repository format version")
	// ErrDamaged is wrapped by errors about objects that fail authentication or decoding.
	ErrDamaged = errors.New("damaged repository object")
	// ErrCannotOpen is wrapped, beside ErrDamaged, by damage to the config
	// or to the key files that keeps the repository from being opened at
	// all: check cannot look at it either, a copy of the file is needed.
	ErrCannotOpen = errors.New("the repository cannot be opened")
)

// cannotOpen marks err (damage to the config or keys) with ErrCannotOpen;
// its text stays err's.
func cannotOpen(err error) error {
	if err == nil || !errors.Is(err, ErrDamaged) {
		return err
	}
	return openDamage{err}
}

type openDamage struct{ error }

func (e openDamage) Unwrap() []error { return []error{e.error, ErrCannotOpen} }

// configFile is the stored config: the version and ID stay readable so a
// reader can refuse an unknown version before asking for a password.
type configFile struct {
	FormatVersion int    `json:"format_version"`
	ID            string `json:"id"`
	Sealed        []byte `json:"sealed"`
}

// Params are the repository's sealed parameters.
type Params struct {
	Chunker chunker.Sizes `json:"chunker"`
	Created time.Time     `json:"created"`
	// FormatVersion and ID repeat the config's readable fields under the
	// seal, so a flipped bit there (format 3 read as 2, with another blob
	// ID hash) is found as damage. Configs written before they were added
	// lack them (zero).
	FormatVersion int    `json:"format_version,omitempty"`
	ID            string `json:"id,omitempty"`
}

// Config is a decoded config.
type Config struct {
	FormatVersion int
	ID            string
	Params        Params
	sealed        []byte
}

// DecodeConfigHeader parses the readable part of a config and checks the version.
func DecodeConfigHeader(data []byte) (Config, error) {
	var cf configFile
	if err := json.Unmarshal(data, &cf); err != nil {
		return Config{}, fmt.Errorf("%w: config is not a cabinet config: %v", ErrDamaged, jsonProblem(err))
	}
	// Versions start at 1: a config without one (an empty object, null)
	// is damaged, not of a release to look for.
	switch v := cf.FormatVersion; {
	case v == 0:
		return Config{}, fmt.Errorf("%w: config has no format version", ErrDamaged)
	case v < 0:
		return Config{}, fmt.Errorf("%w: config has format version %d, which no cabinet wrote", ErrDamaged, v)
	case v > FormatVersion:
		return Config{}, fmt.Errorf("%w: the repository has format version %d, this cabinet reads format versions %d to %d: it was made by a newer cabinet; use a release that reads version %d",
			ErrVersion, v, oldestVersion, FormatVersion, v)
	case !readsVersion(v):
		return Config{}, fmt.Errorf("%w: the repository has format version %d, this cabinet reads format versions %d to %d: it was made by an older cabinet; use a release that reads version %d",
			ErrVersion, v, oldestVersion, FormatVersion, v)
	}
	if len(cf.ID) != 32 {
		return Config{}, fmt.Errorf("%w: config: repository ID %q is not 32 hex digits", ErrDamaged, cf.ID)
	}
	if _, err := hex.DecodeString(cf.ID); err != nil {
		return Config{}, fmt.Errorf("%w: config: repository ID %q: %v", ErrDamaged, cf.ID, err)
	}
	return Config{FormatVersion: cf.FormatVersion, ID: cf.ID, sealed: cf.Sealed}, nil
}

// jsonProblem says what is wrong with a JSON object that did not decode,
// in the file's terms: the decoder's own words name Go types
// (repo.configFile, KDFParams).
func jsonProblem(err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("field %s holds a JSON %s, of the wrong type", te.Field, te.Value)
	case errors.As(err, &te):
		return fmt.Errorf("JSON %s, not an object", te.Value)
	}
	return err
}

// IDHash returns the hash that names the repository's blobs.
func (c Config) IDHash() crypto.IDHash { return idHashOf(c.FormatVersion) }

// openParams decrypts the sealed parameters with the master key.
func (c *Config) openParams(key *crypto.Key) error {
	plain, err := key.Open(nil, c.sealed)
	if err != nil {
		return fmt.Errorf("%w: config: %v", ErrDamaged, err)
	}
	if err := json.Unmarshal(plain, &c.Params); err != nil {
		return fmt.Errorf("%w: config parameters: %v", ErrDamaged, err)
	}
	if v := c.Params.FormatVersion; v != 0 && v != c.FormatVersion {
		return fmt.Errorf("%w: config: its readable part says format version %d, its sealed part %d (the file was altered)", ErrDamaged, c.FormatVersion, v)
	}
	if id := c.Params.ID; id != "" && id != c.ID {
		return fmt.Errorf("%w: config: its readable part says repository ID %s, its sealed part %s (the file was altered)", ErrDamaged, c.ID, id)
	}
	return c.Params.Chunker.Validate()
}

func newConfig(key *crypto.Key, version int, p Params) ([]byte, Config, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, Config{}, err
	}
	p.FormatVersion, p.ID = version, hex.EncodeToString(id[:])
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, Config{}, err
	}
	cf := configFile{FormatVersion: version, ID: p.ID, Sealed: key.Seal(nil, plain)}
	data, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return nil, Config{}, err
	}
	return data, Config{FormatVersion: version, ID: cf.ID, Params: p, sealed: cf.Sealed}, nil
}
