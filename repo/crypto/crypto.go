// Package crypto owns cabinet's keys and encryption: the random master key,
// the password-derived keys that wrap it (argon2id), the sub-keys derived
// from it with HKDF-SHA-256 (encryption, slice IDs, chunker), the keyed
// hash that names blobs (keyed BLAKE3, or HMAC-SHA-256 in format 2
// repositories), and the AEAD (AES-256-GCM, random 96-bit nonce) that
// seals every stored object.
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

	"github.com/zeebo/blake3"
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

// IDHash names the keyed hash that gives blobs their IDs.
type IDHash uint8

const (
	// IDBLAKE3 is keyed BLAKE3 (256-bit output) under the key derived with
	// info "cabinet slice id blake3": format 3 on. With AVX2 it hashes
	// 4.0 GB/s a core against HMAC-SHA-256's 2.0 (SHA-NI), measured on
	// 1 MiB slices; at 16 KiB, 3.5 GB/s against 2.0.
	IDBLAKE3 IDHash = iota
	// IDHMACSHA256 is HMAC-SHA-256 under the key derived with info
	// "cabinet slice id v1": format 2 repositories.
	IDHMACSHA256
)

// Key holds the sub-keys derived from one master key.
type Key struct {
	Master   [MasterKeySize]byte
	aead     cipher.AEAD
	idHash   IDHash
	GearSeed [32]byte
	hashPool sync.Pool // hash.Hash under the ID key of idHash
}

// NewMasterKey returns a fresh random master key; blob IDs use idHash.
func NewMasterKey(idHash IDHash) (*Key, error) {
	var m [MasterKeySize]byte
	if _, err := rand.Read(m[:]); err != nil {
		return nil, err
	}
	return KeyFromMaster(m, idHash)
}

// KeyFromMaster derives the sub-keys of master; blob IDs use idHash.
func KeyFromMaster(master [MasterKeySize]byte, idHash IDHash) (*Key, error) {
	k := &Key{Master: master, idHash: idHash}
	var enc, idKey [32]byte
	idInfo := "cabinet slice id blake3"
	if idHash == IDHMACSHA256 {
		idInfo = "cabinet slice id v1"
	}
	for _, d := range []struct {
		info string
		out  []byte
	}{{"cabinet encryption v1", enc[:]}, {idInfo, idKey[:]}, {"cabinet chunker v1", k.GearSeed[:]}} {
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
	switch idHash {
	case IDBLAKE3:
		k.hashPool.New = func() any {
			h, err := blake3.NewKeyed(idKey[:])
			if err != nil {
				panic(err) // only for a key that is not 32 bytes
			}
			return h
		}
	case IDHMACSHA256:
		k.hashPool.New = func() any { return hmac.New(sha256.New, idKey[:]) }
	default:
		return nil, fmt.Errorf("unknown blob ID hash %d", idHash)
	}
	return k, nil
}

// IDHash returns the hash that gives blobs their IDs.
func (k *Key) IDHash() IDHash { return k.idHash }

// ID returns the keyed slice ID of plaintext.
func (k *Key) ID(plaintext []byte) [32]byte {
	m := k.hashPool.Get().(hash.Hash)
	m.Reset()
	m.Write(plaintext)
	var id [32]byte
	m.Sum(id[:0])
	k.hashPool.Put(m)
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
// (on a 2-vCPU VM). Pages written here fault once, without a flush, and
// as huge pages where the kernel gives them on request: on a VM where a
// first touch costs ~12 µs a 4 KiB page, prefault and KDF took 131-153 ms
// in 4 KiB pages (85-95 ms without the prefault) and 42-58 ms in most runs
// with huge pages (eight runs each, 32 MiB, t=3, p=2).
func prefaultHeap(size int) {
	b := make([]byte, size+hugePageSize) // room to align huge pages within (none off Linux)
	adviseHugePages(b)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	b = nil
	runtime.GC()
}
