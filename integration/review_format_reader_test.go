//go:build linux

package integration

// An independent reader of a cabinet repository, written from
// docs/FORMAT.md alone: it imports no package of this module, only the
// standard library and the primitives FORMAT.md names (argon2id, BLAKE3,
// zstd). If it cannot read a repository the real binary wrote, either the
// document or the code is wrong.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"
	"golang.org/x/crypto/argon2"
	"golang.org/x/sys/unix"
)

// ---------------------------------------------------------------------------
// The reader.

type frID [32]byte

func (id frID) String() string { return hex.EncodeToString(id[:]) }

// frIndexEntry is where one blob lies, as the index files say.
type frIndexEntry struct {
	cabinet   frID
	typ       byte
	offset    uint32
	sealedLen uint32
	plainLen  uint32
}

type frChunker struct{ Min, Avg, Max int }

type frReader struct {
	dir     string
	version int
	repoID  string
	chunker frChunker

	aead      cipher.AEAD
	idKeyB3   []byte
	idKeyHMAC []byte
	gearSeed  []byte

	// index: blob ID -> entries (a blob may be listed more than once).
	index map[frID][]frIndexEntry
	// perCabinet: cabinet -> entries in index order, with their IDs.
	perCabinet map[frID][]frCabinetEntry

	cabinets map[frID][]byte
	zstd     *zstd.Decoder
	// compressed counts blobs and bundles opened with encoding 1.
	compressed int
}

type frCabinetEntry struct {
	id frID
	e  frIndexEntry
}

// frUvarint reads a shortest-form uvarint.
func frUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errors.New("bad uvarint")
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		return 0, nil, errors.New("uvarint not in shortest form")
	}
	return v, b[n:], nil
}

// frVarint reads a shortest-form zig-zag varint.
func frVarint(b []byte) (int64, []byte, error) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, errors.New("bad varint")
	}
	if n != len(binary.AppendVarint(nil, v)) {
		return 0, nil, errors.New("varint not in shortest form")
	}
	return v, b[n:], nil
}

// frBytes reads a uvarint length and that many bytes.
func frBytes(b []byte) ([]byte, []byte, error) {
	n, b, err := frUvarint(b)
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(b)) {
		return nil, nil, errors.New("bytes field runs past the end")
	}
	return b[:n], b[n:], nil
}

func frID32(b []byte) (frID, []byte, error) {
	var id frID
	if len(b) < 32 {
		return id, nil, errors.New("short ID")
	}
	copy(id[:], b)
	return id, b[32:], nil
}

// frOpen opens nonce(12) || ciphertext || tag(16) with AES-256-GCM.
func frOpen(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 12+16 {
		return nil, errors.New("sealed object too short")
	}
	return aead.Open(nil, sealed[:12], sealed[12:], ad)
}

func frAEAD(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// frListObjects lists the regular files in dir, without .tmp- ones.
func frListObjects(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range des {
		if strings.HasPrefix(d.Name(), ".tmp-") || !d.Type().IsRegular() {
			continue
		}
		out = append(out, d.Name())
	}
	return out, nil
}

type frConfigOuter struct {
	FormatVersion int    `json:"format_version"`
	ID            string `json:"id"`
	Sealed        []byte `json:"sealed"` // base64 in JSON
}

type frConfigInner struct {
	Chunker       frChunker `json:"chunker"`
	Created       string    `json:"created"`
	FormatVersion *int      `json:"format_version"`
	ID            *string   `json:"id"`
}

type frKeyFile struct {
	KDF    string `json:"kdf"`
	Params struct {
		Time      uint32 `json:"time"`
		MemoryKiB uint32 `json:"memory_kib"`
		Threads   uint8  `json:"threads"`
	} `json:"params"`
	Salt   []byte `json:"salt"`
	Master []byte `json:"master"`
}

// frOpenRepo reads the config and the key files and derives the sub-keys.
func frOpenRepo(dir string, password []byte) (*frReader, error) {
	r := &frReader{dir: dir, index: map[frID][]frIndexEntry{}, perCabinet: map[frID][]frCabinetEntry{}, cabinets: map[frID][]byte{}}
	raw, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil {
		return nil, err
	}
	var outer frConfigOuter
	if err := json.Unmarshal(raw, &outer); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if outer.FormatVersion < 2 || outer.FormatVersion > 5 {
		return nil, fmt.Errorf("config: format version %d, this reader reads 2 to 5", outer.FormatVersion)
	}
	r.version, r.repoID = outer.FormatVersion, outer.ID

	// Keys.
	names, err := frListObjects(filepath.Join(dir, "keys"))
	if err != nil {
		return nil, err
	}
	// A key file whose master key does not open the config's sealed part
	// (left by an init stopped before it wrote the config) is skipped.
	sort.Strings(names)
	var plain []byte
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join(dir, "keys", n))
		if err != nil {
			return nil, err
		}
		if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != n {
			return nil, fmt.Errorf("key %s: name is not the SHA-256 of its bytes", n)
		}
		var kf frKeyFile
		if err := json.Unmarshal(raw, &kf); err != nil {
			return nil, fmt.Errorf("key %s: %w", n, err)
		}
		if kf.KDF != "argon2id" {
			return nil, fmt.Errorf("key %s: kdf %q", n, kf.KDF)
		}
		p := kf.Params
		if p.Time < 1 || p.Time > 100 || p.MemoryKiB < 8 || p.MemoryKiB > 1048576 || p.Threads == 0 {
			return nil, fmt.Errorf("key %s: argon2id parameters out of range: %+v", n, p)
		}
		if len(kf.Salt) < 16 || len(kf.Master) != 12+32+16 {
			return nil, fmt.Errorf("key %s: salt or sealed master key of the wrong size", n)
		}
		kek := argon2.IDKey(password, kf.Salt, p.Time, p.MemoryKiB, p.Threads, 32)
		a, err := frAEAD(kek)
		if err != nil {
			return nil, err
		}
		master, err := frOpen(a, kf.Master, nil)
		if err != nil {
			continue // another password's key
		}
		sub := func(info string) []byte {
			k, err := hkdf.Key(sha256.New, master, nil, info, 32)
			if err != nil {
				panic(err)
			}
			return k
		}
		if r.aead, err = frAEAD(sub("cabinet encryption v1")); err != nil {
			return nil, err
		}
		if plain, err = frOpen(r.aead, outer.Sealed, nil); err != nil {
			continue // not this repository's master key
		}
		r.idKeyB3 = sub("cabinet slice id blake3")
		r.idKeyHMAC = sub("cabinet slice id v1")
		r.gearSeed = sub("cabinet chunker v1")
		break
	}
	if plain == nil {
		return nil, errors.New("no key file opens the config with this password")
	}
	var inner frConfigInner
	if err := json.Unmarshal(plain, &inner); err != nil {
		return nil, fmt.Errorf("config: sealed JSON: %w", err)
	}
	if inner.FormatVersion != nil && *inner.FormatVersion != outer.FormatVersion {
		return nil, fmt.Errorf("config: sealed version %d, readable %d", *inner.FormatVersion, outer.FormatVersion)
	}
	if inner.ID != nil && *inner.ID != outer.ID {
		return nil, fmt.Errorf("config: sealed ID %s, readable %s", *inner.ID, outer.ID)
	}
	r.chunker = inner.Chunker
	if c := r.chunker; c.Min < 64 || c.Avg <= c.Min || c.Max <= c.Avg || c.Max > 64<<20 || c.Avg&(c.Avg-1) != 0 {
		return nil, fmt.Errorf("config: chunker %+v", r.chunker)
	}
	var err2 error
	r.zstd, err2 = zstd.NewReader(nil)
	if err2 != nil {
		return nil, err2
	}
	return r, nil
}

// blobID is the keyed hash of a plaintext, as the format version says.
func (r *frReader) blobID(plain []byte) frID {
	var id frID
	if r.version >= 3 {
		h, err := blake3.NewKeyed(r.idKeyB3)
		if err != nil {
			panic(err)
		}
		h.Write(plain)
		h.Sum(id[:0])
		return id
	}
	m := hmac.New(sha256.New, r.idKeyHMAC)
	m.Write(plain)
	m.Sum(id[:0])
	return id
}

// cabinetName is the hash that names a cabinet.
func (r *frReader) cabinetName(b []byte) frID {
	if r.version >= 4 {
		return frID(blake3.Sum256(b))
	}
	return frID(sha256.Sum256(b))
}

// readIndexes reads every index file into r.index.
func (r *frReader) readIndexes() error {
	names, err := frListObjects(filepath.Join(r.dir, "index"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("no index files")
	}
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join(r.dir, "index", n))
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != n {
			return fmt.Errorf("index %s: name is not the SHA-256 of its bytes", n)
		}
		plain, err := frOpen(r.aead, raw, nil)
		if err != nil {
			return fmt.Errorf("index %s: %w", n, err)
		}
		if err := r.parseIndex(plain); err != nil {
			return fmt.Errorf("index %s: %w", n, err)
		}
	}
	return nil
}

func (r *frReader) parseIndex(b []byte) error {
	if len(b) < 1 || b[0] != 1 {
		return errors.New("index version is not 1")
	}
	b = b[1:]
	nc, b, err := frUvarint(b)
	if err != nil {
		return err
	}
	for i := uint64(0); i < nc; i++ {
		var cab frID
		if cab, b, err = frID32(b); err != nil {
			return err
		}
		var nb uint64
		if nb, b, err = frUvarint(b); err != nil {
			return err
		}
		for j := uint64(0); j < nb; j++ {
			if len(b) < 45 {
				return errors.New("short blob entry")
			}
			e := frIndexEntry{
				cabinet:   cab,
				typ:       b[0],
				offset:    binary.LittleEndian.Uint32(b[1:]),
				sealedLen: binary.LittleEndian.Uint32(b[5:]),
				plainLen:  binary.LittleEndian.Uint32(b[9:]),
			}
			var id frID
			copy(id[:], b[13:45])
			b = b[45:]
			if e.typ > 2 || (e.typ == 2 && r.version < 5) {
				return fmt.Errorf("blob %s: type %d", id, e.typ)
			}
			r.index[id] = append(r.index[id], e)
			r.perCabinet[cab] = append(r.perCabinet[cab], frCabinetEntry{id, e})
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("%d bytes after the last cabinet", len(b))
	}
	return nil
}

// cabinet returns a cabinet's bytes, checking its name.
func (r *frReader) cabinet(id frID) ([]byte, error) {
	if b, ok := r.cabinets[id]; ok {
		return b, nil
	}
	name := id.String()
	b, err := os.ReadFile(filepath.Join(r.dir, "data", name[:2], name))
	if err != nil {
		return nil, err
	}
	if r.cabinetName(b) != id {
		return nil, fmt.Errorf("cabinet %s: name is not the hash of its bytes", name)
	}
	r.cabinets[id] = b
	return b, nil
}

// decode undoes the one-byte encoding of an opened blob or bundle.
func (r *frReader) decode(b []byte) ([]byte, error) {
	if len(b) < 1 {
		return nil, errors.New("empty blob")
	}
	switch b[0] {
	case 0:
		return b[1:], nil
	case 1:
		r.compressed++
		return r.zstd.DecodeAll(b[1:], nil)
	}
	return nil, fmt.Errorf("encoding %d", b[0])
}

type frBundleEntry struct {
	id  frID
	off int
	n   int
}

// parseBundle splits a bundle plaintext into its table.
func frParseBundle(p []byte) ([]frBundleEntry, error) {
	if len(p) < 4 {
		return nil, errors.New("bundle too short")
	}
	n := int(binary.LittleEndian.Uint32(p[len(p)-4:]))
	tableLen := n * 36
	if n <= 0 || tableLen+4 > len(p) {
		return nil, fmt.Errorf("bundle count %d", n)
	}
	table := p[len(p)-4-tableLen : len(p)-4]
	contentLen := len(p) - 4 - tableLen
	var out []frBundleEntry
	off := 0
	seen := map[frID]bool{}
	for i := 0; i < n; i++ {
		var id frID
		copy(id[:], table[i*36:])
		l := int(binary.LittleEndian.Uint32(table[i*36+32:]))
		if seen[id] {
			return nil, fmt.Errorf("bundle holds %s twice", id)
		}
		seen[id] = true
		out = append(out, frBundleEntry{id, off, l})
		off += l
	}
	if off != contentLen {
		return nil, fmt.Errorf("bundle contents %d bytes, table says %d", contentLen, off)
	}
	return out, nil
}

// openBundle opens and decodes the bundle at e.
func (r *frReader) openBundle(e frIndexEntry) ([]byte, []frBundleEntry, error) {
	cab, err := r.cabinet(e.cabinet)
	if err != nil {
		return nil, nil, err
	}
	end := uint64(e.offset) + uint64(e.sealedLen)
	if end > uint64(len(cab)) {
		return nil, nil, errors.New("bundle runs past its cabinet")
	}
	opened, err := frOpen(r.aead, cab[e.offset:end], []byte{2})
	if err != nil {
		return nil, nil, fmt.Errorf("bundle at %s+%d: %w", e.cabinet, e.offset, err)
	}
	plain, err := r.decode(opened)
	if err != nil {
		return nil, nil, err
	}
	tab, err := frParseBundle(plain)
	if err != nil {
		return nil, nil, err
	}
	return plain, tab, nil
}

// blob returns the plaintext of a blob. An ID names a plaintext, not a
// type: a tree may be stored as a data blob, even in a bundle, and a slice
// as a tree blob, when the other was stored first with the same bytes. The
// index's type only says how the blob is sealed.
func (r *frReader) blob(id frID) ([]byte, error) {
	es := r.index[id]
	if len(es) == 0 {
		return nil, fmt.Errorf("blob %s: not in any index", id)
	}
	e := es[0]
	if e.typ == 2 {
		plain, tab, err := r.openBundle(e)
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", id, err)
		}
		for _, be := range tab {
			if be.id == id {
				if be.n != int(e.plainLen) {
					return nil, fmt.Errorf("blob %s: bundle says %d bytes, index %d", id, be.n, e.plainLen)
				}
				return plain[be.off : be.off+be.n], nil
			}
		}
		return nil, fmt.Errorf("blob %s: not in its bundle", id)
	}
	cab, err := r.cabinet(e.cabinet)
	if err != nil {
		return nil, err
	}
	end := uint64(e.offset) + uint64(e.sealedLen)
	if end > uint64(len(cab)) {
		return nil, fmt.Errorf("blob %s runs past its cabinet", id)
	}
	ad := append([]byte{e.typ}, id[:]...)
	if r.version < 2 {
		ad = nil
	}
	opened, err := frOpen(r.aead, cab[e.offset:end], ad)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", id, err)
	}
	plain, err := r.decode(opened)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", id, err)
	}
	if len(plain) != int(e.plainLen) {
		return nil, fmt.Errorf("blob %s: %d bytes, index says %d", id, len(plain), e.plainLen)
	}
	return plain, nil
}

// verifyCabinet checks a cabinet's name, header and every blob's keyed ID,
// and that its header agrees with the index.
func (r *frReader) verifyCabinet(id frID) (blobs int, err error) {
	cab, err := r.cabinet(id)
	if err != nil {
		return 0, err
	}
	if len(cab) < 8 || string(cab[len(cab)-4:]) != "CAB1" {
		return 0, fmt.Errorf("cabinet %s: no CAB1 trailer", id)
	}
	hl := int(binary.LittleEndian.Uint32(cab[len(cab)-8:]))
	if hl+8 > len(cab) {
		return 0, fmt.Errorf("cabinet %s: header length %d", id, hl)
	}
	hdrOff := len(cab) - 8 - hl
	hdr, err := frOpen(r.aead, cab[hdrOff:len(cab)-8], nil)
	if err != nil {
		return 0, fmt.Errorf("cabinet %s: header: %w", id, err)
	}
	if len(hdr)%41 != 0 {
		return 0, fmt.Errorf("cabinet %s: header of %d bytes", id, len(hdr))
	}
	var entries []frCabinetEntry
	var first []bool // the entry starts a blob or a bundle
	off := uint32(0)
	for i := 0; i < len(hdr); i += 41 {
		e := frIndexEntry{cabinet: id, typ: hdr[i], sealedLen: binary.LittleEndian.Uint32(hdr[i+1:]), plainLen: binary.LittleEndian.Uint32(hdr[i+5:])}
		var bid frID
		copy(bid[:], hdr[i+9:i+41])
		switch {
		case e.typ == 2 && e.sealedLen == 0:
			if len(entries) == 0 || entries[len(entries)-1].e.typ != 2 {
				return 0, fmt.Errorf("cabinet %s: bundle continuation without a bundle", id)
			}
			prev := entries[len(entries)-1].e
			e.offset, e.sealedLen = prev.offset, prev.sealedLen
		case e.sealedLen == 0:
			return 0, fmt.Errorf("cabinet %s: empty blob", id)
		default:
			e.offset = off
			off += e.sealedLen
		}
		first = append(first, hdr[i+1] != 0 || hdr[i+2] != 0 || hdr[i+3] != 0 || hdr[i+4] != 0)
		entries = append(entries, frCabinetEntry{bid, e})
	}
	if int(off) != hdrOff {
		return 0, fmt.Errorf("cabinet %s: blob lengths add up to %d, header at %d", id, off, hdrOff)
	}
	// A cabinet holds tree blobs only or data blobs and bundles only.
	for _, ce := range entries {
		if (ce.e.typ == 1) != (entries[0].e.typ == 1) {
			return 0, fmt.Errorf("cabinet %s: tree and data blobs mixed", id)
		}
	}
	// The header must agree with the index.
	idx := r.perCabinet[id]
	if len(idx) != len(entries) {
		return 0, fmt.Errorf("cabinet %s: header lists %d blobs, index %d", id, len(entries), len(idx))
	}
	for i := range entries {
		if entries[i] != idx[i] {
			return 0, fmt.Errorf("cabinet %s: entry %d: header %+v, index %+v", id, i, entries[i], idx[i])
		}
	}
	// Every blob's keyed ID.
	for i, ce := range entries {
		var plain []byte
		if ce.e.typ == 2 {
			if first[i] {
				// First entry of a bundle: check the bundle's table
				// against the header's run of entries.
				p, tab, err := r.openBundle(ce.e)
				if err != nil {
					return 0, err
				}
				j := i
				for _, be := range tab {
					if j >= len(entries) || entries[j].id != be.id || int(entries[j].e.plainLen) != be.n || entries[j].e.offset != ce.e.offset {
						return 0, fmt.Errorf("cabinet %s: bundle table disagrees with header at entry %d", id, j)
					}
					if got := r.blobID(p[be.off : be.off+be.n]); got != be.id {
						return 0, fmt.Errorf("cabinet %s: bundled blob %s hashes to %s", id, be.id, got)
					}
					j++
				}
				if j < len(entries) && entries[j].e.typ == 2 && !first[j] {
					return 0, fmt.Errorf("cabinet %s: header lists more blobs in a bundle than its table", id)
				}
			}
			blobs++
			continue
		}
		// Open it through the index, so the same path as a reader.
		plain, err = r.blobAt(ce)
		if err != nil {
			return 0, err
		}
		if got := r.blobID(plain); got != ce.id {
			return 0, fmt.Errorf("cabinet %s: blob %s hashes to %s", id, ce.id, got)
		}
		blobs++
	}
	return blobs, nil
}

func (r *frReader) blobAt(ce frCabinetEntry) ([]byte, error) {
	save := r.index[ce.id]
	r.index[ce.id] = []frIndexEntry{ce.e}
	defer func() { r.index[ce.id] = save }()
	return r.blob(ce.id)
}

// Sessions.

type frSession struct {
	name          string
	device        string
	FormatVersion int       `json:"format_version"`
	Device        string    `json:"device"`
	Source        string    `json:"source"`
	Time          time.Time `json:"time"`
	Paths         []string  `json:"paths"`
	Parent        string    `json:"parent"`
	Status        string    `json:"status"`
	Tree          string    `json:"tree"`
	Summary       struct {
		TotalFiles int64 `json:"total_files"`
		TotalBytes int64 `json:"total_bytes"`
	} `json:"summary"`
}

func (r *frReader) sessions() ([]frSession, error) {
	devs, err := os.ReadDir(filepath.Join(r.dir, "sessions"))
	if err != nil {
		return nil, err
	}
	var out []frSession
	for _, d := range devs {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			continue
		}
		names, err := frListObjects(filepath.Join(r.dir, "sessions", d.Name()))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			raw, err := os.ReadFile(filepath.Join(r.dir, "sessions", d.Name(), n))
			if err != nil {
				return nil, err
			}
			if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != n {
				return nil, fmt.Errorf("session %s: name is not the SHA-256 of its bytes", n)
			}
			plain, err := frOpen(r.aead, raw, nil)
			if err != nil {
				return nil, fmt.Errorf("session %s: %w", n, err)
			}
			var s frSession
			if err := json.Unmarshal(plain, &s); err != nil {
				return nil, fmt.Errorf("session %s: %w", n, err)
			}
			s.name, s.device = n, d.Name()
			out = append(out, s)
		}
	}
	return out, nil
}

// Trees.

type frNode struct {
	name        []byte
	typ         byte
	mode        uint64
	uid, gid    uint64
	user, group []byte
	mtime       int64
	size        uint64
	inode, dev  uint64
	links       uint64
	target      []byte
	rdev        uint64
	subtree     frID
	content     []frSlice
	xattrs      map[string][]byte
	xattrNames  []string
}

type frSlice struct {
	id frID
	n  uint64
}

func frParseTree(b []byte) ([]frNode, error) {
	if len(b) < 1 || b[0] != 1 {
		return nil, errors.New("tree version is not 1")
	}
	b = b[1:]
	n, b, err := frUvarint(b)
	if err != nil {
		return nil, err
	}
	var nodes []frNode
	for i := uint64(0); i < n; i++ {
		var nd frNode
		if nd.name, b, err = frBytes(b); err != nil {
			return nil, fmt.Errorf("node %d name: %w", i, err)
		}
		if len(nd.name) == 0 || string(nd.name) == "." || string(nd.name) == ".." || bytes.ContainsAny(nd.name, "/\x00") {
			return nil, fmt.Errorf("node name %q", nd.name)
		}
		if len(nodes) > 0 && bytes.Compare(nodes[len(nodes)-1].name, nd.name) >= 0 {
			return nil, fmt.Errorf("node %q not sorted after %q", nd.name, nodes[len(nodes)-1].name)
		}
		if len(b) < 1 {
			return nil, errors.New("short node")
		}
		nd.typ, b = b[0], b[1:]
		if nd.typ < 1 || nd.typ > 7 {
			return nil, fmt.Errorf("node %q: type %d", nd.name, nd.typ)
		}
		steps := []struct {
			what string
			f    func() error
		}{
			{"mode", func() (e error) { nd.mode, b, e = frUvarint(b); return }},
			{"uid", func() (e error) { nd.uid, b, e = frUvarint(b); return }},
			{"gid", func() (e error) { nd.gid, b, e = frUvarint(b); return }},
			{"user", func() (e error) { nd.user, b, e = frBytes(b); return }},
			{"group", func() (e error) { nd.group, b, e = frBytes(b); return }},
			{"mtime", func() (e error) { nd.mtime, b, e = frVarint(b); return }},
			{"size", func() (e error) { nd.size, b, e = frUvarint(b); return }},
			{"inode", func() (e error) { nd.inode, b, e = frUvarint(b); return }},
			{"device", func() (e error) { nd.dev, b, e = frUvarint(b); return }},
			{"links", func() (e error) { nd.links, b, e = frUvarint(b); return }},
			{"target", func() (e error) { nd.target, b, e = frBytes(b); return }},
			{"rdev", func() (e error) { nd.rdev, b, e = frUvarint(b); return }},
			{"subtree", func() (e error) {
				if nd.typ == 2 {
					nd.subtree, b, e = frID32(b)
				}
				return
			}},
			{"content", func() error {
				if nd.typ != 1 {
					return nil
				}
				c, rest, err := frUvarint(b)
				if err != nil {
					return err
				}
				b = rest
				var sum uint64
				for j := uint64(0); j < c; j++ {
					var s frSlice
					if s.id, b, err = frID32(b); err != nil {
						return err
					}
					if s.n, b, err = frUvarint(b); err != nil {
						return err
					}
					sum += s.n
					nd.content = append(nd.content, s)
				}
				if sum != nd.size {
					return fmt.Errorf("slices add up to %d, size %d", sum, nd.size)
				}
				return nil
			}},
			{"xattrs", func() error {
				c, rest, err := frUvarint(b)
				if err != nil {
					return err
				}
				b = rest
				for j := uint64(0); j < c; j++ {
					var k, v []byte
					if k, b, err = frBytes(b); err != nil {
						return err
					}
					if v, b, err = frBytes(b); err != nil {
						return err
					}
					if nd.xattrs == nil {
						nd.xattrs = map[string][]byte{}
					}
					if len(nd.xattrNames) > 0 && nd.xattrNames[len(nd.xattrNames)-1] >= string(k) {
						return errors.New("xattrs not sorted")
					}
					nd.xattrNames = append(nd.xattrNames, string(k))
					nd.xattrs[string(k)] = v
				}
				return nil
			}},
		}
		for _, s := range steps {
			if err := s.f(); err != nil {
				return nil, fmt.Errorf("node %q %s: %w", nd.name, s.what, err)
			}
		}
		nodes = append(nodes, nd)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last node", len(b))
	}
	return nodes, nil
}

func (r *frReader) tree(id frID) ([]frNode, error) {
	plain, err := r.blob(id)
	if err != nil {
		return nil, err
	}
	nodes, err := frParseTree(plain)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", id, err)
	}
	return nodes, nil
}

// fileContent concatenates a file node's slices.
func (r *frReader) fileContent(nd frNode) ([]byte, error) {
	var out []byte
	for _, s := range nd.content {
		p, err := r.blob(s.id)
		if err != nil {
			return nil, err
		}
		if uint64(len(p)) != s.n {
			return nil, fmt.Errorf("slice %s: %d bytes, tree says %d", s.id, len(p), s.n)
		}
		out = append(out, p...)
	}
	return out, nil
}

// Slicing, per "Slicing": returns the slice lengths of data.
func (r *frReader) slice(data []byte) []int {
	var gear [256]uint64
	for i := 0; i < 256; i++ {
		s := sha256.Sum256(append(append([]byte{}, r.gearSeed...), byte(i)))
		gear[i] = binary.LittleEndian.Uint64(s[:8])
	}
	b := bits.TrailingZeros(uint(r.chunker.Avg))
	maskS := ^uint64(0) << (64 - (b + 2))
	maskL := ^uint64(0) << (64 - (b - 2))
	var out []int
	for len(data) > 0 {
		if len(data) <= r.chunker.Min {
			out = append(out, len(data))
			break
		}
		n := len(data)
		if n > r.chunker.Max {
			n = r.chunker.Max
		}
		cut := n
		var fp uint64
		for i := r.chunker.Min; i < n; i++ {
			fp = (fp << 1) + gear[data[i]]
			m := maskL
			if i < r.chunker.Avg {
				m = maskS
			}
			if fp&m == 0 {
				cut = i + 1
				break
			}
		}
		out = append(out, cut)
		data = data[cut:]
	}
	return out
}

// ---------------------------------------------------------------------------
// The test.

func TestReviewFormatReader(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")

	// Many small files (bundled), some of them compressible.
	for i := 0; i < 150; i++ {
		n := 1 + (i*977)%(120<<10)
		var data []byte
		if i%3 == 0 {
			data = bytes.Repeat([]byte(fmt.Sprintf("line %d of a small text file\n", i)), n/20+1)[:n]
		} else {
			data = coreRandom(int64(1000+i), n)
		}
		coreWrite(t, filepath.Join(src, "small", fmt.Sprintf("d%02d", i%7), fmt.Sprintf("f%03d.bin", i)), data, 0o644)
	}
	// Two small files with equal content: one blob.
	coreWrite(t, filepath.Join(src, "small", "same1"), []byte("same content"), 0o644)
	coreWrite(t, filepath.Join(src, "small", "same2"), []byte("same content"), 0o600)
	coreWrite(t, filepath.Join(src, "big.rand"), coreRandom(7, 9<<20+12345), 0o640)
	coreWrite(t, filepath.Join(src, "mid.rand"), coreRandom(8, 300<<10), 0o644) // above the bundle limit, below Min
	var text bytes.Buffer
	for i := 0; text.Len() < 5<<20; i++ {
		fmt.Fprintf(&text, "%08d the quick brown fox jumps over the lazy dog\n", i)
	}
	coreWrite(t, filepath.Join(src, "text", "compressible.txt"), text.Bytes(), 0o644)
	coreWrite(t, filepath.Join(src, "empty"), nil, 0o644)
	coreWrite(t, filepath.Join(src, "a", "b", "c", "d", "deep.txt"), []byte("deep\n"), 0o755)
	coreWrite(t, filepath.Join(src, "caf\xe9-\xff\xfe.txt"), []byte("latin-1 name\n"), 0o644)
	coreWrite(t, filepath.Join(src, "setuid"), []byte("#!/bin/sh\n"), 0o755)
	if err := os.Chmod(filepath.Join(src, "setuid"), 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b/c/d/deep.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nowhere/\xe9", filepath.Join(src, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "a", "b", "c", "d", "deep.txt"), filepath.Join(src, "hardlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(src, "emptydir"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Zeros: the gear hash of a run of zeros is constant, so the file is
	// cut at Max; the identical slices are one blob, the short last one is
	// bundled.
	coreWrite(t, filepath.Join(src, "zeros"), make([]byte, 2*4194304+5000), 0o644)
	haveXattr := unix.Lsetxattr(filepath.Join(src, "empty"), "user.cabinet.test", []byte("value\x00\xff"), 0) == nil
	t.Logf("user xattrs supported: %v", haveXattr)

	// A device name with bytes FORMAT.md says are escaped.
	const device = ".my dev:\u00fc%"
	e.extraEnv = append(e.extraEnv, "CABINET_DEVICE="+device)
	s1, _ := coreBackup(t, e, 0, src)
	// A second session, with one file changed and one added: the reader
	// must pick the newest.
	time.Sleep(10 * time.Millisecond)
	coreWrite(t, filepath.Join(src, "small", "d00", "f000.bin"), []byte("changed\n"), 0o644)
	coreWrite(t, filepath.Join(src, "added.txt"), bytes.Repeat([]byte("added "), 50000), 0o644)
	s, _ := coreBackup(t, e, 0, src)

	pw, err := os.ReadFile(e.pwFile)
	if err != nil {
		t.Fatal(err)
	}
	pw = bytes.TrimSuffix(pw, []byte("\n"))

	r, err := frOpenRepo(e.repo, pw)
	if err != nil {
		t.Fatal(err)
	}
	if r.version != 5 {
		t.Fatalf("new repository has format %d, want 5", r.version)
	}
	if err := r.readIndexes(); err != nil {
		t.Fatal(err)
	}
	bundled := 0
	for _, es := range r.index {
		if es[0].typ == 2 {
			bundled++
		}
	}
	if bundled < 100 {
		t.Errorf("only %d bundled blobs in the index", bundled)
	}

	sessions, err := r.sessions()
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) == 0 {
		t.Fatal("no sessions")
	}
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].Time.Before(sessions[j].Time) })
	sess := sessions[len(sessions)-1]
	if len(sessions) != 2 {
		t.Fatalf("%d sessions, want 2", len(sessions))
	}
	if sess.FormatVersion != 1 || sess.Source != "files" || sess.Device != device {
		t.Errorf("session: format_version %d, source %q, device %q", sess.FormatVersion, sess.Source, sess.Device)
	}
	if wantDir := "%2Emy%20dev%3A%C3%BC%25"; sess.device != wantDir {
		t.Errorf("session folder %q, FORMAT.md says %q", sess.device, wantDir)
	}
	if sess.Parent != sessions[0].name {
		t.Errorf("newest session's parent %q, want %q", sess.Parent, sessions[0].name)
	}
	if sessions[0].Tree != s1.Tree {
		t.Errorf("first session's tree %s, backup printed %s", sessions[0].Tree, s1.Tree)
	}
	if len(r.repoID) != 32 {
		t.Errorf("config id %q", r.repoID)
	}
	if sess.Tree != s.Tree {
		t.Fatalf("newest session's tree %s, backup printed %s", sess.Tree, s.Tree)
	}
	if !strings.HasPrefix(sess.name, s.ID) && !strings.HasPrefix(s.ID, sess.name) {
		t.Logf("session file %s, backup printed ID %s", sess.name, s.ID)
	}
	var root frID
	if _, err := hex.Decode(root[:], []byte(sess.Tree)); err != nil || len(sess.Tree) != 64 {
		t.Fatalf("session tree %q", sess.Tree)
	}

	files, totalBytes := frCompareTree(t, r, root, src, haveXattr)
	if files != sess.Summary.TotalFiles || totalBytes != sess.Summary.TotalBytes {
		t.Errorf("read %d files, %d bytes; session summary says %d, %d", files, totalBytes, sess.Summary.TotalFiles, sess.Summary.TotalBytes)
	}

	// Every cabinet: its name, header, and the keyed ID of every blob.
	dataDirs, err := os.ReadDir(filepath.Join(e.repo, "data"))
	if err != nil {
		t.Fatal(err)
	}
	nCab, nBlobs := 0, 0
	for _, dd := range dataDirs {
		names, err := frListObjects(filepath.Join(e.repo, "data", dd.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if n[:2] != dd.Name() {
				t.Errorf("cabinet %s in folder %s", n, dd.Name())
			}
			var id frID
			if _, err := hex.Decode(id[:], []byte(n)); err != nil {
				t.Fatalf("cabinet name %q", n)
			}
			if _, ok := r.perCabinet[id]; !ok {
				t.Errorf("cabinet %s is in no index", n)
				continue
			}
			b, err := r.verifyCabinet(id)
			if err != nil {
				t.Fatal(err)
			}
			nCab++
			nBlobs += b
		}
	}
	if nCab != len(r.perCabinet) {
		t.Errorf("%d cabinets on disk, %d in the index", nCab, len(r.perCabinet))
	}
	if r.compressed == 0 {
		t.Error("no blob or bundle was stored compressed")
	}
	// Nothing in the repository but what "Layout" lists.
	hex64 := func(s string) bool {
		if len(s) != 64 {
			return false
		}
		_, err := hex.DecodeString(s)
		return err == nil && strings.ToLower(s) == s
	}
	err = filepath.WalkDir(e.repo, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(e.repo, p)
		parts := strings.Split(rel, "/")
		ok := false
		switch {
		case rel == "config":
			ok = true
		case len(parts) == 2 && (parts[0] == "keys" || parts[0] == "index"):
			ok = hex64(parts[1])
		case len(parts) == 3 && parts[0] == "data":
			ok = hex64(parts[2]) && parts[2][:2] == parts[1]
		case len(parts) == 3 && parts[0] == "sessions":
			ok = hex64(parts[2])
		}
		if !ok {
			t.Errorf("object %s is not in FORMAT.md's layout", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d files (%d bytes), %d cabinets, %d blobs (%d bundled)", files, totalBytes, nCab, nBlobs, bundled)
}

// frCompareTree walks the tree root down the absolute path src and
// compares everything below with the folder src: names, types, metadata,
// content, symlink targets and the documented slicing. It returns the
// number of regular files and their bytes.
func frCompareTree(t *testing.T, r *frReader, root frID, src string, haveXattr bool) (files, totalBytes int64) {
	t.Helper()
	// Walk from the root down the absolute path of src.
	nodes, err := r.tree(root)
	if err != nil {
		t.Fatal(err)
	}
	var srcNode frNode
	parts := strings.Split(strings.TrimPrefix(src, "/"), "/")
	for i, p := range parts {
		found := false
		for _, nd := range nodes {
			if string(nd.name) == p {
				found, srcNode = true, nd
			}
		}
		if !found || srcNode.typ != 2 {
			t.Fatalf("%s not a folder in the session's tree", p)
		}
		if i < len(parts)-1 {
			if nodes, err = r.tree(srcNode.subtree); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Compare the session's tree with the source.
	var walk func(dir string, nd frNode)
	walk = func(dir string, nd frNode) {
		checkMeta(t, dir, nd, haveXattr)
		kids, err := r.tree(nd.subtree)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, d := range des {
			want = append(want, d.Name())
		}
		sort.Strings(want)
		var got []string
		for _, k := range kids {
			got = append(got, string(k.name))
		}
		if strings.Join(want, "\x00") != strings.Join(got, "\x00") {
			t.Fatalf("%s: names %q, tree %q", dir, want, got)
		}
		for _, k := range kids {
			p := filepath.Join(dir, string(k.name))
			switch k.typ {
			case 2:
				walk(p, k)
			case 1:
				checkMeta(t, p, k, haveXattr)
				want, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.fileContent(k)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if !bytes.Equal(want, got) {
					t.Errorf("%s: content differs (%d bytes read back, %d on disk)", p, len(got), len(want))
				}
				var lens []int
				for _, s := range k.content {
					lens = append(lens, int(s.n))
				}
				if wantLens := r.slice(want); fmt.Sprint(wantLens) != fmt.Sprint(lens) && len(want) > 0 {
					t.Errorf("%s: slices %v, the documented chunker cuts %v", p, lens, wantLens)
				}
				files++
				totalBytes += int64(len(got))
			case 3:
				checkMeta(t, p, k, haveXattr)
				tgt, err := os.Readlink(p)
				if err != nil {
					t.Fatal(err)
				}
				if tgt != string(k.target) {
					t.Errorf("%s: target %q, tree %q", p, tgt, k.target)
				}
			default:
				t.Errorf("%s: unexpected node type %d", p, k.typ)
			}
		}
	}
	walk(src, srcNode)
	return files, totalBytes
}

// checkMeta compares a node's mode, owner, size and mtime with the file's.
func checkMeta(t *testing.T, p string, nd frNode, haveXattr bool) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	if got, want := nd.mode, uint64(st.Mode&0o7777); got != want {
		t.Errorf("%s: mode %o, want %o", p, got, want)
	}
	if nd.uid != uint64(st.Uid) || nd.gid != uint64(st.Gid) {
		t.Errorf("%s: owner %d:%d, want %d:%d", p, nd.uid, nd.gid, st.Uid, st.Gid)
	}
	if nd.mtime != st.Mtim.Nano() {
		t.Errorf("%s: mtime %d, want %d", p, nd.mtime, st.Mtim.Nano())
	}
	wantType := map[uint32]byte{unix.S_IFREG: 1, unix.S_IFDIR: 2, unix.S_IFLNK: 3}[st.Mode&unix.S_IFMT]
	if nd.typ != wantType {
		t.Errorf("%s: type %d, want %d", p, nd.typ, wantType)
	}
	if nd.typ != 1 && (nd.size != 0 || nd.inode != 0 || nd.dev != 0 || nd.links != 0 || len(nd.content) != 0) {
		t.Errorf("%s: type %d with size %d, inode %d, device %d, links %d", p, nd.typ, nd.size, nd.inode, nd.dev, nd.links)
	}
	if nd.typ != 3 && len(nd.target) != 0 {
		t.Errorf("%s: target %q on a node of type %d", p, nd.target, nd.typ)
	}
	if nd.rdev != 0 {
		t.Errorf("%s: rdev %d", p, nd.rdev)
	}
	if nd.typ == 1 && nd.size == 0 && len(nd.content) != 0 {
		t.Errorf("%s: empty file with %d slices", p, len(nd.content))
	}
	if nd.typ == 1 {
		if nd.size != uint64(st.Size) {
			t.Errorf("%s: size %d, want %d", p, nd.size, st.Size)
		}
		if st.Nlink > 1 {
			if nd.inode != st.Ino || nd.dev != uint64(st.Dev) || nd.links != uint64(st.Nlink) {
				t.Errorf("%s: inode %d dev %d links %d, want %d %d %d", p, nd.inode, nd.dev, nd.links, st.Ino, st.Dev, st.Nlink)
			}
		} else if nd.inode != 0 || nd.dev != 0 || nd.links != 0 {
			t.Errorf("%s: inode %d dev %d links %d for a file with one link", p, nd.inode, nd.dev, nd.links)
		}
	}
	if haveXattr {
		want := coreXattrs(p)
		user := 0
		for k := range nd.xattrs {
			if strings.HasPrefix(k, "user.") {
				user++
			}
		}
		if len(want) != user {
			t.Errorf("%s: xattrs %q, want %q", p, nd.xattrs, want)
		}
		for k, v := range want {
			if string(nd.xattrs[k]) != v {
				t.Errorf("%s: xattr %s = %q, want %q", p, k, nd.xattrs[k], v)
			}
		}
	}
}

// frSubtree returns the tree ID of the folder at the absolute path p in
// the tree root.
func frSubtree(t *testing.T, r *frReader, root frID, p string) frID {
	t.Helper()
	id := root
	for _, name := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		nodes, err := r.tree(id)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, nd := range nodes {
			if string(nd.name) == name && nd.typ == 2 {
				id, found = nd.subtree, true
			}
		}
		if !found {
			t.Fatalf("%s: no folder %q", p, name)
		}
	}
	return id
}

// frOpenEnv opens e's repository with the reader and reads its index.
func frOpenEnv(t *testing.T, e *env) *frReader {
	t.Helper()
	pw, err := os.ReadFile(e.pwFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := frOpenRepo(e.repo, bytes.TrimSuffix(pw, []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.readIndexes(); err != nil {
		t.Fatal(err)
	}
	return r
}

func frHexID(t *testing.T, s string) frID {
	t.Helper()
	var id frID
	if n, err := hex.Decode(id[:], []byte(s)); err != nil || n != 32 || len(s) != 64 {
		t.Fatalf("ID %q", s)
	}
	return id
}

// TestReviewFormatReaderTypeCollision: a blob ID names a plaintext whatever
// its type, and a writer stores each ID once. A folder whose tree encodes to
// the bytes of a small file stored before is found as a bundled data blob;
// a file holding the bytes of a stored tree is read from a tree blob.
// FORMAT.md must say so, or a reader that trusts "bundles hold no trees"
// cannot read such a repository.
func TestReviewFormatReaderTypeCollision(t *testing.T) {
	base := t.TempDir()
	leaf := filepath.Join(base, "src", "leaf")
	other := filepath.Join(base, "other")
	// A folder holding only an empty file: its tree holds no keyed ID, so
	// its bytes are the same in every repository.
	coreWrite(t, filepath.Join(leaf, "e"), nil, 0o644)
	mt := time.Unix(1700000000, 0)
	if err := os.Chtimes(filepath.Join(leaf, "e"), mt, mt); err != nil {
		t.Fatal(err)
	}

	eA := newEnv(t)
	sA, _ := coreBackup(t, eA, 0, leaf)
	rA := frOpenEnv(t, eA)
	leafTree, err := rA.blob(frSubtree(t, rA, frHexID(t, sA.Tree), leaf))
	if err != nil {
		t.Fatal(err)
	}

	// In another repository, a file with those bytes first, then the folder.
	eB := newEnv(t)
	coreWrite(t, filepath.Join(other, "f"), leafTree, 0o644)
	coreBackup(t, eB, 0, other)
	s2, _ := coreBackup(t, eB, 0, leaf, other)
	r2 := frOpenEnv(t, eB)
	leafID := frSubtree(t, r2, frHexID(t, s2.Tree), leaf)
	if es := r2.index[leafID]; len(es) != 1 || es[0].typ != 2 {
		t.Fatalf("the folder's tree blob: index entries %+v, want one bundled data blob", es)
	}
	// And a file with the bytes of a stored tree.
	srcID := frSubtree(t, r2, frHexID(t, s2.Tree), filepath.Dir(leaf))
	if es := r2.index[srcID]; len(es) != 1 || es[0].typ != 1 {
		t.Fatalf("tree %s: index entries %+v, want one tree blob", srcID, es)
	}
	srcTree, err := r2.blob(srcID)
	if err != nil {
		t.Fatal(err)
	}
	coreWrite(t, filepath.Join(other, "g"), srcTree, 0o644)
	s3, _ := coreBackup(t, eB, 0, leaf, other)

	r3 := frOpenEnv(t, eB)
	root := frHexID(t, s3.Tree)
	frCompareTree(t, r3, root, leaf, false)
	frCompareTree(t, r3, root, other, false)
	if es := r3.index[srcID]; len(es) != 1 || es[0].typ != 1 {
		t.Fatalf("tree %s: index entries %+v after the backup of a file with its bytes", srcID, es)
	}
	eB.mustCheck()
}
