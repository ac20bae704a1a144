// Package crypto owns cabinet's keys and encryption: the random master key,
// the password-derived keys that wrap it (argon2id), the sub-keys derived
// from it with HKDF-SHA-256 (encryption, slice IDs, chunker), and the AEAD
// (AES-256-GCM, random 96-bit nonce) that seals every stored object.
//
// A sealed object is nonce (12 bytes) || ciphertext || tag (16 bytes).
package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/hkdf"
)

const (
	// MasterKeySize is the size of the random master key.
	MasterKeySize = 32
	// NonceSize is the AEAD nonce size.
	NonceSize = 12
	// Overhead is what sealing adds to a plaintext.
	Overhead = NonceSize + 16
)

// ErrAuth means a sealed object failed authentication: wrong key, or the
// bytes were changed (bit flip, truncation).
var ErrAuth = errors.New("authentication failed (wrong key or damaged data)")

// Key holds the sub-keys derived from one master key.
type Key struct {
	Master   [MasterKeySize]byte
	aead     cipher.AEAD
	idKey    [32]byte
	GearSeed [32]byte
	macPool  sync.Pool
}

// NewMasterKey returns a fresh random master key.
func NewMasterKey() (*Key, error) {
	var m [MasterKeySize]byte
	if _, err := rand.Read(m[:]); err != nil {
		return nil, err
	}
	return KeyFromMaster(m)
}

// KeyFromMaster derives the sub-keys of master.
func KeyFromMaster(master [MasterKeySize]byte) (*Key, error) {
	k := &Key{Master: master}
	var enc [32]byte
	for _, d := range []struct {
		info string
		out  []byte
	}{{"cabinet encryption v1", enc[:]}, {"cabinet slice id v1", k.idKey[:]}, {"cabinet chunker v1", k.GearSeed[:]}} {
		if _, err := io.ReadFull(hkdf.New(sha256.New, master[:], nil, []byte(d.info)), d.out); err != nil {
			return nil, err
		}
	}
	block, err := aes.NewCipher(enc[:])
	if err != nil {
		return nil, err
	}
	k.aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k.macPool.New = func() any { return hmac.New(sha256.New, k.idKey[:]) }
	return k, nil
}

// ID returns the keyed slice ID of plaintext: HMAC-SHA-256 under the ID key.
func (k *Key) ID(plaintext []byte) [32]byte {
	m := k.macPool.Get().(hash.Hash)
	m.Reset()
	m.Write(plaintext)
	var id [32]byte
	m.Sum(id[:0])
	k.macPool.Put(m)
	return id
}

// Seal appends the sealed form of plaintext to dst and returns it.
func (k *Key) Seal(dst, plaintext []byte) []byte {
	return SealWith(k.aead, dst, plaintext)
}

// Open returns the plaintext of sealed, appended to dst.
func (k *Key) Open(dst, sealed []byte) ([]byte, error) {
	return OpenWith(k.aead, dst, sealed)
}

// SealBound is Seal with associated data: opening needs the same ad. Blobs
// are bound to their type and ID this way, so an authenticated blob is the
// one its ID names and readers need not hash it again.
func (k *Key) SealBound(dst, plaintext, ad []byte) []byte {
	return sealAD(k.aead, dst, plaintext, ad)
}

// OpenBound opens what SealBound sealed with the same ad.
func (k *Key) OpenBound(dst, sealed, ad []byte) ([]byte, error) {
	return openAD(k.aead, dst, sealed, ad)
}

// SealWith seals plaintext with aead and a random nonce.
func SealWith(aead cipher.AEAD, dst, plaintext []byte) []byte {
	return sealAD(aead, dst, plaintext, nil)
}

// OpenWith opens a sealed object with aead.
func OpenWith(aead cipher.AEAD, dst, sealed []byte) ([]byte, error) {
	return openAD(aead, dst, sealed, nil)
}

func sealAD(aead cipher.AEAD, dst, plaintext, ad []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, NonceSize)...)
	if _, err := rand.Read(dst[start:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return aead.Seal(dst, dst[start:start+NonceSize], plaintext, ad)
}

func openAD(aead cipher.AEAD, dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte envelope", ErrAuth, len(sealed), Overhead)
	}
	out, err := aead.Open(dst, sealed[:NonceSize], sealed[NonceSize:], ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// KDFParams are the argon2id parameters stored in a key file.
type KDFParams struct {
	Time    uint32 `json:"time"`
	Memory  uint32 `json:"memory_kib"`
	Threads uint8  `json:"threads"`
}

// DefaultKDF returns the parameters new keys get: about 0.1 s on a modern
// core and 32 MiB of memory, so opening a repository stays quick while a
// password guess costs an attacker the same.
func DefaultKDF() KDFParams { return KDFParams{Time: 3, Memory: 32 * 1024, Threads: 2} }

// PasswordAEAD derives the AEAD that wraps a master key from a password.
func PasswordAEAD(password []byte, salt []byte, p KDFParams) (cipher.AEAD, error) {
	if p.Time == 0 || p.Memory == 0 || p.Threads == 0 || p.Memory > 4<<20 || p.Time > 100 {
		return nil, fmt.Errorf("unreasonable argon2id parameters %+v", p)
	}
	prefaultHeap(int(p.Memory) << 10)
	dk := argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, 32)
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// prefaultHeap leaves size bytes of written, free memory in the Go heap
// for argon2 to allocate next. x/crypto's argon2 XORs every new block into
// the fresh allocation, so on memory never touched each page is first
// mapped to the shared zero page and then copied on write, which flushes
// the TLB of every core the process runs on: 32 MiB took 100 ms, not 30 ms
// (on a 2-vCPU VM). Pages written here fault once, without a flush.
func prefaultHeap(size int) {
	b := make([]byte, size)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	b = nil
	runtime.GC()
}
