// Package index owns the map from blob ID to where the blob is stored
// (cabinet, offset, length): the encoding of index files (docs/FORMAT.md,
// "Index") and the compact in-memory index merged from all of them.
//
// Memory: each blob costs one 32-byte entry in a sorted array (the first
// 16 bytes of its ID, cabinet number, offset, lengths, type) plus 32 bytes
// per cabinet, so 10 million blobs take about 350 MB. A table of where each
// leading bit pattern of the IDs starts (about 4 bytes per 2 blobs) narrows
// every lookup to a few entries before the binary search. Blobs added since
// the last Compact live in a small map until then.
//
// The in-memory index knows a blob by the first 16 bytes of its ID (its
// Key), as kopia's 128-bit content IDs do: IDs are keyed hashes, so two
// of 10 million blobs share a Key with a probability near 10^-25, and a
// blob read through a Key is still opened with its whole ID as the seal's
// associated data, so even then the wrong blob would fail to open rather
// than be used.
package index

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"

	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/pack"
)

// FormatVersion is the version byte that starts an index file's plaintext.
const FormatVersion = 1

// ErrFormat is wrapped by errors about malformed index files.
var ErrFormat = errors.New("malformed index")

// Location says where a blob is stored.
type Location struct {
	Pack      blob.ID
	Type      blob.Type
	Offset    uint32
	Length    uint32
	RawLength uint32
	// Bundled: the blob is one of the small data blobs of the sealed
	// bundle at Offset, Length (docs/FORMAT.md, "Bundle").
	Bundled bool
}

// PackEntries lists the blobs of one cabinet, as written to an index file.
type PackEntries struct {
	Pack    blob.ID
	Entries []pack.Entry
}

// Encode returns the plaintext of an index file listing packs.
func Encode(packs []PackEntries) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, p := range packs {
		n += 32 + binary.MaxVarintLen64 + len(p.Entries)*EntrySize
	}
	buf := make([]byte, 0, n)
	buf = append(buf, FormatVersion)
	buf = binary.AppendUvarint(buf, uint64(len(packs)))
	for _, p := range packs {
		buf = append(buf, p.Pack[:]...)
		buf = binary.AppendUvarint(buf, uint64(len(p.Entries)))
		for _, e := range p.Entries {
			buf = append(buf, e.TypeByte())
			buf = binary.LittleEndian.AppendUint32(buf, e.Offset)
			buf = binary.LittleEndian.AppendUint32(buf, e.Length)
			buf = binary.LittleEndian.AppendUint32(buf, e.RawLength)
			buf = append(buf, e.ID[:]...)
		}
	}
	return buf
}

// EntrySize is the size of one blob's entry in an index file.
const EntrySize = 45

// Decode parses the plaintext of an index file.
func Decode(data []byte) ([]PackEntries, error) {
	r := bytes.NewReader(data)
	v, err := r.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("%w: empty", ErrFormat)
	}
	if v != FormatVersion {
		return nil, fmt.Errorf("%w: index format version %d, this program reads version %d: upgrade cabinet", ErrFormat, v, FormatVersion)
	}
	np, err := readUvarint(r)
	if err != nil || np > uint64(r.Len()/33) {
		return nil, fmt.Errorf("%w: bad cabinet count", ErrFormat)
	}
	packs := make([]PackEntries, 0, np)
	for i := uint64(0); i < np; i++ {
		var p PackEntries
		if _, err := r.Read(p.Pack[:]); err != nil || r.Len() < 0 {
			return nil, fmt.Errorf("%w: truncated in cabinet %d", ErrFormat, i)
		}
		ne, err := readUvarint(r)
		if err != nil || ne > uint64(r.Len()/EntrySize) {
			return nil, fmt.Errorf("%w: bad entry count in cabinet %d", ErrFormat, i)
		}
		p.Entries = make([]pack.Entry, ne)
		var rec [EntrySize]byte
		for j := range p.Entries {
			if n, _ := r.Read(rec[:]); n != len(rec) {
				return nil, fmt.Errorf("%w: truncated in cabinet %d", ErrFormat, i)
			}
			e := &p.Entries[j]
			if !e.SetTypeByte(rec[0]) {
				return nil, fmt.Errorf("%w: unknown blob type %d", ErrFormat, rec[0])
			}
			e.Offset = binary.LittleEndian.Uint32(rec[1:])
			e.Length = binary.LittleEndian.Uint32(rec[5:])
			e.RawLength = binary.LittleEndian.Uint32(rec[9:])
			copy(e.ID[:], rec[13:])
		}
		packs = append(packs, p)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrFormat, r.Len())
	}
	return packs, nil
}

// readUvarint reads a canonical uvarint (the shortest encoding), so every
// index has exactly one encoding.
func readUvarint(r *bytes.Reader) (uint64, error) {
	start := r.Len()
	v, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, err
	}
	if start-r.Len() != len(binary.AppendUvarint(nil, v)) {
		return 0, fmt.Errorf("%w: non-canonical number", ErrFormat)
	}
	return v, nil
}

// Key is the part of a blob ID the in-memory index keeps: its first 16 bytes.
type Key [16]byte

// KeyOf returns the Key of id.
func KeyOf(id blob.ID) Key { return Key(id[:16]) }

type entry struct {
	key Key
	// packType is the cabinet number above typeBits bits of blob type:
	// with the type in a field of its own an entry took 52 bytes, not 48.
	packType  uint32
	offset    uint32
	length    uint32
	rawLength uint32
}

// typeBits is how many low bits of entry.packType hold the blob type.
const typeBits = 2

func makeEntry(pack uint32, e *pack.Entry) entry {
	return entry{key: KeyOf(e.ID), packType: pack<<typeBits | uint32(e.TypeByte()), offset: e.Offset, length: e.Length, rawLength: e.RawLength}
}

func (e *entry) pack() uint32 { return e.packType >> typeBits }

func (e *entry) typ() blob.Type {
	if e.bundled() {
		return blob.Data
	}
	return blob.Type(e.packType & (1<<typeBits - 1))
}

func (e *entry) bundled() bool { return e.packType&(1<<typeBits-1) == pack.TypeBundled }

func (e *entry) location(packs []blob.ID) Location {
	return Location{Pack: packs[e.pack()], Type: e.typ(), Offset: e.offset, Length: e.length, RawLength: e.rawLength, Bundled: e.bundled()}
}

// Index is the in-memory index. Safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	packs   []blob.ID
	packNum map[blob.ID]uint32
	sorted  []entry
	added   map[Key]entry
	loaded  []entry // Load'ed, merged by the next Compact
	// starts[p] is the first entry of sorted whose ID begins with the
	// prefixBits-bit pattern p; starts[len-1] is len(sorted).
	starts     []uint32
	prefixBits uint
}

// New returns an empty index.
func New() *Index {
	return &Index{packNum: map[blob.ID]uint32{}, added: map[Key]entry{}}
}

func (x *Index) packNumber(p blob.ID) uint32 {
	n, ok := x.packNum[p]
	if !ok {
		n = uint32(len(x.packs))
		if n >= 1<<(32-typeBits) {
			// A billion cabinets of tens of MiB each: exabytes.
			panic("index: more cabinets than an entry can number")
		}
		x.packs = append(x.packs, p)
		x.packNum[p] = n
	}
	return n
}

// Add records the blobs of packs. A blob already known keeps its first location.
func (x *Index) Add(packs ...PackEntries) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range packs {
		n := x.packNumber(p.Pack)
		for _, e := range p.Entries {
			k := KeyOf(e.ID)
			if _, ok := x.lookupLocked(k); ok {
				continue
			}
			x.added[k] = makeEntry(n, &e)
		}
	}
}

// Load records the blobs of packs in bulk, as read from index files: they
// are found only after the next Compact. Unlike Add it keeps no map: the
// map held ~150 bytes a blob while an index of a million blobs was read.
// sizeHint, if known, is how many entries all Load calls before the next
// Compact bring.
func (x *Index) Load(packs []PackEntries, sizeHint int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.loaded == nil && sizeHint > 0 {
		x.loaded = make([]entry, 0, sizeHint)
	}
	for _, p := range packs {
		n := x.packNumber(p.Pack)
		for _, e := range p.Entries {
			x.loaded = append(x.loaded, makeEntry(n, &e))
		}
	}
}

// Compact merges recently added and loaded blobs into the sorted array. A
// blob found in several cabinets keeps the location recorded first: the
// sorted array's, else the lowest cabinet number.
//
// The new blobs are sorted on their own and merged into the array from its
// end, in place when Reserve left room: regrowing a sorted array of a
// million blobs held the old and the new one at once (~120 MB).
func (x *Index) Compact() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.added) == 0 && len(x.loaded) == 0 {
		return
	}
	if len(x.loaded) == 0 && len(x.added) < len(x.sorted)/16 && cap(x.sorted)-len(x.sorted) < len(x.added) {
		// A few blobs stay in the map: merging them would copy the whole
		// array (a no-change backup of 1M files adds a handful of trees).
		return
	}
	fresh := x.loaded
	x.loaded = nil
	for _, e := range x.added {
		fresh = append(fresh, e)
	}
	x.added = map[Key]entry{}
	sortEntries(fresh)
	fresh = slices.CompactFunc(fresh, func(a, b entry) bool { return a.key == b.key })
	if len(x.sorted) == 0 && cap(x.sorted) < len(fresh) {
		x.sorted = fresh
	} else {
		x.sorted = mergeSorted(x.sorted, fresh)
	}
	x.buildStarts()
}

// mergeSorted merges fresh into sorted, both sorted without repeats,
// keeping sorted's entry for an ID in both. It fills sorted's spare
// capacity from the end, so only a full array is copied.
func mergeSorted(sorted, fresh []entry) []entry {
	// Drop what is known already; the rest all go in.
	fresh = slices.DeleteFunc(fresh, func(e entry) bool {
		_, found := slices.BinarySearchFunc(sorted, e.key, func(s entry, k Key) int { return compareKeys(&s.key, &k) })
		return found
	})
	n, k := len(sorted), len(fresh)
	if n+k > cap(sorted) {
		grown := make([]entry, n, n+max(k, n/4))
		copy(grown, sorted)
		sorted = grown
	}
	out := sorted[:n+k]
	i, j := n-1, k-1
	for w := n + k - 1; j >= 0; w-- {
		if i >= 0 && compareKeys(&sorted[i].key, &fresh[j].key) > 0 {
			out[w] = sorted[i]
			i--
		} else {
			out[w] = fresh[j]
			j--
		}
	}
	return out
}

// Reserve makes room for n more blobs in the sorted array, so that adding
// them needs no copy of it: a backup calls it with its estimate once it
// knows what it will read.
func (x *Index) Reserve(n int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if n < len(x.sorted)/16 || cap(x.sorted)-len(x.sorted) >= n {
		return // a few blobs go to the map until there are more (Compact)
	}
	grown := make([]entry, len(x.sorted), len(x.sorted)+n)
	copy(grown, x.sorted)
	x.sorted = grown
}

// buildStarts rebuilds the prefix table: about two entries per pattern.
func (x *Index) buildStarts() {
	x.prefixBits = uint(min(max(bits.Len(uint(len(x.sorted)))-1, 1), 24))
	n := 1 << x.prefixBits
	x.starts = slices.Grow(x.starts[:0], n+1)[:n+1]
	i := 0
	for p := range n {
		for i < len(x.sorted) && x.prefix(&x.sorted[i].key) < uint32(p) {
			i++
		}
		x.starts[p] = uint32(i)
	}
	x.starts[n] = uint32(len(x.sorted))
}

func (x *Index) prefix(k *Key) uint32 {
	return binary.BigEndian.Uint32(k[:4]) >> (32 - x.prefixBits)
}

func (x *Index) lookupLocked(k Key) (entry, bool) {
	if e, ok := x.added[k]; ok {
		return e, true
	}
	if len(x.sorted) == 0 {
		return entry{}, false
	}
	p := x.prefix(&k)
	lo, hi := x.starts[p], x.starts[p+1]
	// About two entries a run: compared in place, not copied out one by
	// one as a search function's arguments.
	for lo < hi {
		mid := lo + (hi-lo)/2
		switch c := compareKeys(&x.sorted[mid].key, &k); {
		case c == 0:
			return x.sorted[mid], true
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return entry{}, false
}

// compareEntries orders entries by ID, then by cabinet number.
func compareEntries(a, b entry) int {
	if c := compareKeys(&a.key, &b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.packType, b.packType) // the cabinet number, then the type
}

// sortEntries sorts es by compareEntries. IDs are keyed hashes, spread
// evenly, so one pass that moves each entry to the bucket of its first
// 16 bits, in place, leaves buckets of a few entries to sort: the
// corpus's 160,000 blobs took 37 ms with one sort of the whole array,
// which copies two entries for every comparison, and take 11 ms so.
func sortEntries(es []entry) {
	const bits = 16
	if len(es) < 1<<bits/4 {
		slices.SortFunc(es, compareEntries)
		return
	}
	bucket := func(e *entry) uint32 { return binary.BigEndian.Uint32(e.key[:4]) >> (32 - bits) }
	next := make([]uint32, 1<<bits) // first slot of each bucket not yet filled
	end := make([]uint32, 1<<bits)
	for i := range es {
		end[bucket(&es[i])]++
	}
	var sum uint32
	for b, n := range end {
		next[b] = sum
		sum += n
		end[b] = sum
	}
	for b := range next {
		for next[b] < end[b] {
			i := next[b]
			to := bucket(&es[i])
			if to == uint32(b) {
				next[b]++
				continue
			}
			j := next[to]
			next[to]++
			es[i], es[j] = es[j], es[i]
		}
	}
	var start uint32
	for _, stop := range end {
		if stop-start > 1 {
			slices.SortFunc(es[start:stop], compareEntries)
		}
		start = stop
	}
}

// compareKeys orders Keys as bytes.Compare does, eight bytes at a time: a
// look-up took 54 ns with bytes.Compare on whole IDs, 34 ns so.
func compareKeys(a, b *Key) int {
	if x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8]); x != y {
		return cmp.Compare(x, y)
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// Lookup returns where id is stored.
func (x *Index) Lookup(id blob.ID) (Location, bool) {
	x.mu.RLock()
	e, ok := x.lookupLocked(KeyOf(id))
	var loc Location
	if ok {
		loc = e.location(x.packs)
	}
	x.mu.RUnlock()
	return loc, ok
}

// Has reports whether id is indexed.
func (x *Index) Has(id blob.ID) bool {
	x.mu.RLock()
	_, ok := x.lookupLocked(KeyOf(id))
	x.mu.RUnlock()
	return ok
}

// Len returns the number of blobs.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.sorted) + len(x.added)
}

// Packs returns the cabinets the index names.
func (x *Index) Packs() []blob.ID {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Clone(x.packs)
}

// BytesPerBlob reports the memory an indexed blob costs in the sorted array.
func BytesPerBlob() int { return int(sizeofEntry) }

const sizeofEntry = 32
