// Package pack reads and writes cabinets: immutable files of many sealed
// blobs followed by a sealed header that lists them (docs/FORMAT.md,
// "Cabinet"). A cabinet is named by a hash of its bytes (NameHash).
package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/cabinetbackup/cabinet/repo/blob"
	"github.com/cabinetbackup/cabinet/repo/crypto"
)

// Magic ends every cabinet, after the header length.
const Magic = "CAB1"

// HeaderEntrySize is the plaintext size of one header entry.
const HeaderEntrySize = 1 + 4 + 4 + 32

// trailerSize is the header length (uint32) plus the magic.
const trailerSize = 4 + len(Magic)

// Entry describes one blob in a cabinet.
type Entry struct {
	Type      blob.Type
	ID        blob.ID
	Offset    uint32 // start of the sealed blob (or of its bundle) in the cabinet
	Length    uint32 // sealed length (of the bundle when Bundled)
	RawLength uint32 // plaintext length before compression
	// Bundled data blobs are stored with other small ones in one sealed
	// bundle (docs/FORMAT.md, "Bundle"): Offset and Length are the
	// bundle's, shared by all of its blobs.
	Bundled bool
}

// Type bytes of header and index entries: a blob.Type, or TypeBundled for
// a data blob inside a bundle (repository format 5).
const TypeBundled = 2

// TypeByte is the entry's type byte in a header or an index file.
func (e *Entry) TypeByte() byte {
	if e.Bundled {
		return TypeBundled
	}
	return byte(e.Type)
}

// SetTypeByte sets Type and Bundled from a type byte and reports whether
// the byte is a known type.
func (e *Entry) SetTypeByte(b byte) bool {
	if b == TypeBundled {
		e.Type, e.Bundled = blob.Data, true
		return true
	}
	e.Type, e.Bundled = blob.Type(b), false
	return e.Type.Valid()
}

// ErrFormat is wrapped by errors about malformed cabinets.
var ErrFormat = errors.New("malformed cabinet")

// NameHash makes the hash whose sum of a cabinet's bytes is its name:
// SHA-256 in repository formats 2 and 3, BLAKE3 from format 4.
type NameHash func() hash.Hash

// Writer builds a cabinet, either in memory or streamed to a sink (a file
// being written), hashing it on the way for its name.
type Writer struct {
	sink    io.Writer
	name    NameHash
	hash    hash.Hash // of a streamed cabinet, as it is written
	buf     []byte
	size    int
	entries []Entry
	err     error
}

// NewWriter returns a writer that keeps the cabinet in memory, its buffer
// starting with capacity sizeHint; name names it.
func NewWriter(sizeHint int, name NameHash) *Writer {
	return &Writer{buf: make([]byte, 0, sizeHint), name: name}
}

// NewWriterBuffer returns an in-memory writer that appends to buf[:0], for
// reusing the buffer of a cabinet already written; name names it.
func NewWriterBuffer(buf []byte, name NameHash) *Writer { return &Writer{buf: buf[:0], name: name} }

// NewStreamWriter returns a writer that writes the cabinet to sink as blobs
// are added; Finish returns no bytes, only the name.
func NewStreamWriter(sink io.Writer, name NameHash) *Writer {
	return &Writer{sink: sink, name: name, hash: name()}
}

func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	if w.sink == nil {
		w.buf = append(w.buf, p...)
		return
	}
	w.hash.Write(p)
	_, w.err = w.sink.Write(p)
}

// Add appends an already sealed blob. An error means the sink failed; the
// cabinet is then unusable.
func (w *Writer) Add(t blob.Type, id blob.ID, sealed []byte, rawLength int) (Entry, error) {
	e := Entry{Type: t, ID: id, Offset: uint32(w.size), Length: uint32(len(sealed)), RawLength: uint32(rawLength)}
	w.write(sealed)
	w.size += len(sealed)
	w.entries = append(w.entries, e)
	return e, w.err
}

// AddBundle appends a sealed bundle holding the data blobs ids, whose
// plaintext lengths are rawLengths. An error means the sink failed.
func (w *Writer) AddBundle(ids []blob.ID, rawLengths []int, sealed []byte) error {
	for i, id := range ids {
		w.entries = append(w.entries, Entry{Type: blob.Data, ID: id, Offset: uint32(w.size), Length: uint32(len(sealed)), RawLength: uint32(rawLengths[i]), Bundled: true})
	}
	w.write(sealed)
	w.size += len(sealed)
	return w.err
}

// Size is the bytes added so far.
func (w *Writer) Size() int { return w.size }

// Count is the number of blobs added so far.
func (w *Writer) Count() int { return len(w.entries) }

// Entries returns the blobs added so far.
func (w *Writer) Entries() []Entry { return w.entries }

// Finish appends the sealed header and trailer and returns the cabinet's
// bytes (nil when streamed) and its name (the NameHash of the bytes).
func (w *Writer) Finish(key *crypto.Key) ([]byte, blob.ID, error) {
	hdr := make([]byte, 0, len(w.entries)*HeaderEntrySize)
	for i, e := range w.entries {
		hdr = append(hdr, e.TypeByte())
		length := e.Length
		if e.Bundled && i > 0 && w.entries[i-1].Bundled && w.entries[i-1].Offset == e.Offset {
			length = 0 // the bundle of the entry before
		}
		hdr = binary.LittleEndian.AppendUint32(hdr, length)
		hdr = binary.LittleEndian.AppendUint32(hdr, e.RawLength)
		hdr = append(hdr, e.ID[:]...)
	}
	trailer := key.Seal(nil, hdr)
	trailer = binary.LittleEndian.AppendUint32(trailer, uint32(len(trailer)))
	trailer = append(trailer, Magic...)
	w.write(trailer)
	w.size += len(trailer)
	if w.err != nil {
		return nil, blob.ID{}, w.err
	}
	if w.sink != nil {
		var id blob.ID
		w.hash.Sum(id[:0])
		return nil, id, nil
	}
	var id blob.ID
	h := w.name()
	h.Write(w.buf)
	h.Sum(id[:0])
	return w.buf, id, nil
}

// HeaderLocation reads the trailer (the last 8 bytes of a cabinet of size
// fileSize) and returns where the sealed header starts and its length.
func HeaderLocation(trailer []byte, fileSize int64) (offset int64, length int, err error) {
	if len(trailer) != trailerSize || string(trailer[4:]) != Magic {
		return 0, 0, fmt.Errorf("%w: trailer magic missing (truncated file?)", ErrFormat)
	}
	hl := int64(binary.LittleEndian.Uint32(trailer[:4]))
	if hl < crypto.Overhead || hl > fileSize-int64(trailerSize) {
		return 0, 0, fmt.Errorf("%w: header length %d does not fit a %d-byte file", ErrFormat, hl, fileSize)
	}
	return fileSize - int64(trailerSize) - hl, int(hl), nil
}

// TrailerSize is the number of bytes at the end of a cabinet that locate the header.
func TrailerSize() int { return trailerSize }

// ParseHeader opens a sealed header and returns its entries with offsets.
// headerOffset is where the header starts, which must equal the sum of the
// blob lengths.
func ParseHeader(key *crypto.Key, sealed []byte, headerOffset int64) ([]Entry, error) {
	hdr, err := key.Open(nil, sealed)
	if err != nil {
		return nil, fmt.Errorf("cabinet header: %w", err)
	}
	return DecodeHeader(hdr, headerOffset)
}

// DecodeHeader decodes a plaintext header.
func DecodeHeader(hdr []byte, headerOffset int64) ([]Entry, error) {
	if len(hdr)%HeaderEntrySize != 0 {
		return nil, fmt.Errorf("%w: header of %d bytes is not a whole number of entries", ErrFormat, len(hdr))
	}
	entries := make([]Entry, 0, len(hdr)/HeaderEntrySize)
	var off int64
	for p := 0; p < len(hdr); p += HeaderEntrySize {
		e := Entry{
			Length:    binary.LittleEndian.Uint32(hdr[p+1:]),
			RawLength: binary.LittleEndian.Uint32(hdr[p+5:]),
			Offset:    uint32(off),
		}
		copy(e.ID[:], hdr[p+9:p+41])
		if !e.SetTypeByte(hdr[p]) {
			return nil, fmt.Errorf("%w: entry %d has unknown type %d", ErrFormat, len(entries), hdr[p])
		}
		if e.Bundled && e.Length == 0 {
			// Another blob of the bundle before.
			if len(entries) == 0 || !entries[len(entries)-1].Bundled {
				return nil, fmt.Errorf("%w: entry %d continues a bundle, but no bundle comes before it", ErrFormat, len(entries))
			}
			prev := entries[len(entries)-1]
			e.Offset, e.Length = prev.Offset, prev.Length
			entries = append(entries, e)
			continue
		}
		if e.Length < crypto.Overhead+1 {
			return nil, fmt.Errorf("%w: entry %d has impossible length %d", ErrFormat, len(entries), e.Length)
		}
		off += int64(e.Length)
		if off > headerOffset || off > 1<<32-1 {
			return nil, fmt.Errorf("%w: entries run past the header at %d", ErrFormat, headerOffset)
		}
		entries = append(entries, e)
	}
	if off != headerOffset {
		return nil, fmt.Errorf("%w: entries cover %d bytes, header starts at %d", ErrFormat, off, headerOffset)
	}
	return entries, nil
}
