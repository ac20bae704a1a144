// Package chunker cuts a byte stream into content-defined slices with a
// FastCDC-style gear hash whose table is derived from the repository's secret
// key, so slice boundaries reveal nothing about the content to someone who
// only sees slice sizes. Normalised chunking (a stricter mask before the
// average size, a looser one after) keeps sizes close to the average.
package chunker

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sizes bound the slices. Chosen by measurement (bench/RESULTS.md): 1 MiB
// average keeps per-slice overhead (index entry, nonce, tag, header entry)
// negligible while a one-line edit still re-uploads only about a megabyte;
// a 4 MiB maximum bounds the memory each reader and worker holds.
type Sizes struct {
	Min, Avg, Max int
}

// DefaultSizes returns the sizes new repositories use.
func DefaultSizes() Sizes { return Sizes{Min: 512 << 10, Avg: 1 << 20, Max: 4 << 20} }

// Validate checks that the sizes make sense together.
func (s Sizes) Validate() error {
	if s.Min < 64 || s.Avg <= s.Min || s.Max <= s.Avg || s.Max > 64<<20 || s.Avg&(s.Avg-1) != 0 {
		return fmt.Errorf("chunker sizes %d/%d/%d: want 64 <= min < avg (a power of two) < max <= 64 MiB", s.Min, s.Avg, s.Max)
	}
	return nil
}

// Params is a keyed gear table with its sizes and masks. It is read-only
// after creation and safe to share.
type Params struct {
	gear         [256]uint64
	gear2        [256]uint64 // gear[i] << 1, for two bytes a step (cut)
	sizes        Sizes
	maskS, maskL uint64
	// zerosUncut says no position in Max zeros is a cut point, so a slice
	// starting with Max zeros is Max zeros (Cut skips the hash for it).
	zerosUncut bool
}

// NewParams derives the gear table from seed (32 secret bytes).
func NewParams(seed [32]byte, sizes Sizes) (*Params, error) {
	if err := sizes.Validate(); err != nil {
		return nil, err
	}
	p := &Params{sizes: sizes}
	var in [33]byte
	copy(in[:], seed[:])
	for i := range p.gear {
		in[32] = byte(i)
		sum := sha256.Sum256(in[:])
		p.gear[i] = binary.LittleEndian.Uint64(sum[:8])
		p.gear2[i] = p.gear[i] << 1
	}
	bits := 0
	for 1<<bits < sizes.Avg {
		bits++
	}
	// The gear hash shifts left, so high bits depend on the most bytes: the
	// masks take the top bits, giving a 64-byte rolling window.
	p.maskS = ^uint64(0) << (64 - (bits + 2))
	p.maskL = ^uint64(0) << (64 - (bits - 2))
	p.zerosUncut = !p.zerosHaveCut()
	return p, nil
}

// zerosHaveCut reports whether a slice of Max zeros holds a cut point. The
// gear hash of zeros from a slice start is gear[0]*(2^k-1) after k bytes:
// it settles at -gear[0] from the 64th byte on, so only the first 64 values
// and the settled one need checking against the masks of the two regions
// (most keys: none matches, and runs of zeros are cut at Max).
func (p *Params) zerosHaveCut() bool {
	small, all := p.sizes.Avg-p.sizes.Min, p.sizes.Max-p.sizes.Min // hashed bytes under maskS, in total
	var fp uint64
	for k := 1; k <= min(all, 64); k++ {
		fp = fp<<1 + p.gear[0]
		mask := p.maskS
		if k > small {
			mask = p.maskL
		}
		if fp&mask == 0 {
			return true
		}
	}
	return small > 64 && fp&p.maskS == 0 || all > max(small, 64) && fp&p.maskL == 0
}

// Sizes returns the slice size bounds.
func (p *Params) Sizes() Sizes { return p.sizes }

// Cut returns the length of the first slice of data. data holds either at
// least Max bytes or the rest of the stream.
func (p *Params) Cut(data []byte) int {
	// Disk images hold long runs of zeros: comparing is several times
	// faster than hashing them.
	if n := min(len(data), p.sizes.Max); p.zerosUncut && n > p.sizes.Min && IsZero(data[:n]) {
		return n
	}
	return p.cutHashed(data)
}

// zeroBlock is compared with data a block at a time.
var zeroBlock [64 << 10]byte

// IsZero reports whether data holds only zero bytes. It stops at the first
// block that does not, so data costs little.
func IsZero(data []byte) bool {
	for len(data) > 0 {
		n := min(len(data), len(zeroBlock))
		if !bytes.Equal(data[:n], zeroBlock[:n]) {
			return false
		}
		data = data[n:]
	}
	return true
}

// cutHashed is Cut with the gear hash.
func (p *Params) cutHashed(data []byte) int {
	n := len(data)
	if n <= p.sizes.Min {
		return n
	}
	if n > p.sizes.Max {
		n = p.sizes.Max
	}
	normal := p.sizes.Avg
	if normal > n {
		normal = n
	}
	fp, at := p.cut(0, data[p.sizes.Min:normal], p.maskS)
	if at >= 0 {
		return p.sizes.Min + at
	}
	if _, at = p.cut(fp, data[normal:n], p.maskL); at >= 0 {
		return normal + at
	}
	return n
}

// cut runs the gear hash fp over data and returns the length of the prefix
// after which fp&mask is 0 first, or -1 with the final fp. It steps two
// bytes at a time: fp<<2 + gear[a]<<1 + gear[b] equals two one-byte steps,
// and the chain of dependent operations is half as long (the one-byte loop
// ran at 2 cycles a byte, its shift-and-add). The value after the first
// byte is computed beside it, so the cut points are the one-byte ones.
func (p *Params) cut(fp uint64, data []byte, mask uint64) (uint64, int) {
	gear, gear2 := &p.gear, &p.gear2
	i := 0
	for ; i+1 < len(data); i += 2 {
		a, b := data[i], data[i+1]
		first := (fp << 1) + gear[a]
		fp = (fp << 2) + (gear2[a] + gear[b])
		if first&mask == 0 {
			return first, i + 1
		}
		if fp&mask == 0 {
			return fp, i + 2
		}
	}
	if i < len(data) {
		fp = (fp << 1) + gear[data[i]]
		if fp&mask == 0 {
			return fp, i + 1
		}
	}
	return fp, -1
}

// Chunker reads a stream and returns its slices one by one.
type Chunker struct {
	p          *Params
	r          io.Reader
	buf        []byte
	start, end int
	eof        bool
}

// New returns a chunker over r. buf, if large enough (2*Max), is used as the
// read buffer so callers can recycle it.
func New(p *Params, r io.Reader, buf []byte) *Chunker {
	if cap(buf) < 2*p.sizes.Max {
		buf = make([]byte, 2*p.sizes.Max)
	}
	return &Chunker{p: p, r: r, buf: buf[:cap(buf)]}
}

// Buffer returns the read buffer, for reuse once the chunker is done.
func (c *Chunker) Buffer() []byte { return c.buf }

// Next appends the next slice to dst[:0] and returns it; io.EOF after the last.
func (c *Chunker) Next(dst []byte) ([]byte, error) {
	s, err := c.Peek()
	if err != nil {
		return nil, err
	}
	return append(dst[:0], s...), nil
}

// Peek returns the next slice as a view of the chunker's buffer, valid
// until the next call: callers copy it into a buffer of the right size.
func (c *Chunker) Peek() ([]byte, error) {
	if c.end-c.start < c.p.sizes.Max && !c.eof {
		if c.start > 0 {
			c.end = copy(c.buf, c.buf[c.start:c.end])
			c.start = 0
		}
		for c.end < len(c.buf) && !c.eof {
			n, err := c.r.Read(c.buf[c.end:])
			c.end += n
			if errors.Is(err, io.EOF) {
				c.eof = true
			} else if err != nil {
				return nil, err
			}
		}
	}
	if c.start == c.end {
		return nil, io.EOF
	}
	cut := c.p.Cut(c.buf[c.start:c.end])
	s := c.buf[c.start : c.start+cut]
	c.start += cut
	return s, nil
}
