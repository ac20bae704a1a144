package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/cabinetbackup/cabinet/repo/blob"
)

// TreeVersion is the first byte of an encoded tree.
const TreeVersion = 1

// ErrTreeFormat is wrapped by tree decoding errors.
var ErrTreeFormat = errors.New("malformed tree")

// NodeType says what a node is.
type NodeType uint8

// Node types.
const (
	TypeFile NodeType = iota + 1
	TypeDir
	TypeSymlink
	TypeDevice
	TypeCharDevice
	TypeFIFO
	TypeSocket
)

func (t NodeType) String() string {
	switch t {
	case TypeFile:
		return "file"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	case TypeDevice:
		return "device"
	case TypeCharDevice:
		return "chardev"
	case TypeFIFO:
		return "fifo"
	case TypeSocket:
		return "socket"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Xattr is one extended attribute.
type Xattr struct {
	Name  string
	Value []byte
}

// Node is one entry of a directory. Name holds the raw bytes of the name
// (any bytes but '/' and NUL; not "." or "..").
type Node struct {
	Name    string
	Type    NodeType
	Mode    uint32 // permission bits plus setuid, setgid, sticky (07777)
	UID     uint32
	GID     uint32
	User    string
	Group   string
	ModTime int64 // Unix nanoseconds
	Size    uint64
	// Inode, DeviceID and Links are kept only for files with more than one
	// link, so restore can recreate hard links.
	Inode    uint64
	DeviceID uint64
	Links    uint32
	Target   string // symlink target
	Rdev     uint64 // device number of device nodes
	Subtree  blob.ID
	Content  []blob.ID // slices of a file, in order
	Sizes    []uint32  // plaintext length of each slice
	Xattrs   []Xattr
}

// Tree is the decoded listing of one directory, sorted by name.
type Tree struct {
	Nodes []Node
}

// Sort orders the nodes by name bytes.
func (t *Tree) Sort() {
	sort.Slice(t.Nodes, func(i, j int) bool { return t.Nodes[i].Name < t.Nodes[j].Name })
}

// Find returns the node called name, or nil.
func (t *Tree) Find(name string) *Node {
	i := sort.Search(len(t.Nodes), func(i int) bool { return t.Nodes[i].Name >= name })
	if i < len(t.Nodes) && t.Nodes[i].Name == name {
		return &t.Nodes[i]
	}
	return nil
}

// ValidName reports whether name may be a node name: no separator, no NUL,
// not empty, not "." or "..". Restore refuses any other name.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case name == "." || name == "..":
		return fmt.Errorf("name %q would leave its folder", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("name %q contains a path separator or NUL", name)
	}
	return nil
}

// EncodeTree returns the deterministic encoding of t (nodes must be sorted).
func EncodeTree(t *Tree) []byte {
	e := NewTreeEncoder(len(t.Nodes))
	for i := range t.Nodes {
		e.Add(&t.Nodes[i])
	}
	return e.Bytes()
}

// TreeEncoder encodes a tree one node at a time, for a folder too large to
// hold as a Tree (a million entries are ~250 MB of Nodes, ~60 MB encoded).
// Its output is EncodeTree's for the same nodes.
type TreeEncoder struct {
	buf []byte
}

// NewTreeEncoder starts the encoding of a tree of count nodes.
func NewTreeEncoder(count int) *TreeEncoder {
	buf := make([]byte, 0, 64+count*96)
	buf = append(buf, TreeVersion)
	return &TreeEncoder{buf: binary.AppendUvarint(buf, uint64(count))}
}

// Add appends n. Nodes must come sorted by name, as many as announced.
func (e *TreeEncoder) Add(n *Node) { e.buf = appendNode(e.buf, n) }

// Bytes returns the encoding.
func (e *TreeEncoder) Bytes() []byte { return e.buf }

func appendBytes(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendNode(buf []byte, n *Node) []byte {
	buf = appendBytes(buf, n.Name)
	buf = append(buf, byte(n.Type))
	buf = binary.AppendUvarint(buf, uint64(n.Mode))
	buf = binary.AppendUvarint(buf, uint64(n.UID))
	buf = binary.AppendUvarint(buf, uint64(n.GID))
	buf = appendBytes(buf, n.User)
	buf = appendBytes(buf, n.Group)
	buf = binary.AppendVarint(buf, n.ModTime)
	buf = binary.AppendUvarint(buf, n.Size)
	buf = binary.AppendUvarint(buf, n.Inode)
	buf = binary.AppendUvarint(buf, n.DeviceID)
	buf = binary.AppendUvarint(buf, uint64(n.Links))
	buf = appendBytes(buf, n.Target)
	buf = binary.AppendUvarint(buf, n.Rdev)
	if n.Type == TypeDir {
		buf = append(buf, n.Subtree[:]...)
	}
	if n.Type == TypeFile {
		buf = binary.AppendUvarint(buf, uint64(len(n.Content)))
		for i, id := range n.Content {
			buf = append(buf, id[:]...)
			buf = binary.AppendUvarint(buf, uint64(n.Sizes[i]))
		}
	}
	buf = binary.AppendUvarint(buf, uint64(len(n.Xattrs)))
	for _, x := range n.Xattrs {
		buf = appendBytes(buf, x.Name)
		buf = appendBytes(buf, string(x.Value))
	}
	return buf
}

type decoder struct {
	buf []byte
	err error
	// views makes str return strings that alias buf, not copies.
	views bool
	// noContent skips the slice lists of files (Content, Sizes stay nil).
	noContent bool
	// counting: a file's slices of matchSize bytes with the ID match are
	// counted into matched. The ID is held by value: a pointer to the
	// caller's would move it to the heap, an allocation per file listed.
	counting  bool
	match     blob.ID
	matchSize uint32
	matched   int
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrTreeFormat}, args...)...)
	}
}

func (d *decoder) uvarint(max uint64, what string) uint64 {
	return d.uvarintOf(max, what, "")
}

// uvarintOf is uvarint for a field named what+suffix, joined only for the
// message: the decoder allocates nothing on the good path.
func (d *decoder) uvarintOf(max uint64, what, suffix string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 || v > max || n != uvarintLen(v) {
		d.fail("bad %s%s", what, suffix)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// uvarintLen is the length of the canonical encoding of v: decoders refuse
// longer encodings so every tree has exactly one encoding.
func uvarintLen(v uint64) int { return max(1, (bits.Len64(v)+6)/7) }

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 || n != uvarintLen(zigzag(v)) {
		d.fail("bad %s", what)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// zigzag is how binary.AppendVarint maps a signed value to an unsigned one.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func (d *decoder) bytes(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.buf) {
		d.fail("truncated %s", what)
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) str(what string) string {
	n := d.uvarintOf(uint64(len(d.buf)), what, " length")
	b := d.bytes(int(n), what)
	if d.views && len(b) > 0 {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

func (d *decoder) byte1(what string) byte {
	b := d.bytes(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

// DecodeTree parses an encoded tree and checks its invariants: known
// version, sorted unique valid names, consistent content lists.
func DecodeTree(data []byte) (*Tree, error) {
	d := &decoder{buf: data}
	count := d.header(len(data))
	if d.err != nil {
		return nil, d.err
	}
	t := &Tree{Nodes: make([]Node, 0, count)}
	prev := ""
	for i := uint64(0); i < count && d.err == nil; i++ {
		var n Node
		d.node(&n, i, prev)
		if d.err == nil {
			t.Nodes = append(t.Nodes, n)
			prev = n.Name
		}
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return t, nil
}

// header reads the version and the node count of a tree of size bytes.
func (d *decoder) header(size int) uint64 {
	if v := d.byte1("version"); d.err == nil && v != TreeVersion {
		d.err = fmt.Errorf("%w: tree format version %d, this program reads version %d: upgrade cabinet", ErrTreeFormat, v, TreeVersion)
		return 0
	}
	return d.uvarint(uint64(size), "node count")
}

// finish checks that the whole tree was read.
func (d *decoder) finish() error {
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
	return d.err
}

// node decodes node i, whose name must sort after prev, into n. With
// d.views its strings and attribute values alias the decoded bytes, and
// its Content and Sizes reuse n's.
func (d *decoder) node(n *Node, i uint64, prev string) {
	content, sizes := n.Content[:0], n.Sizes[:0]
	*n = Node{}
	n.Name = d.str("name")
	n.Type = NodeType(d.byte1("type"))
	n.Mode = uint32(d.uvarint(07777, "mode"))
	n.UID = uint32(d.uvarint(1<<32-1, "uid"))
	n.GID = uint32(d.uvarint(1<<32-1, "gid"))
	n.User = d.str("user")
	n.Group = d.str("group")
	n.ModTime = d.varint("mtime")
	n.Size = d.uvarint(1<<63, "size")
	n.Inode = d.uvarint(1<<64-1, "inode")
	n.DeviceID = d.uvarint(1<<64-1, "device")
	n.Links = uint32(d.uvarint(1<<32-1, "links"))
	n.Target = d.str("symlink target")
	n.Rdev = d.uvarint(1<<64-1, "rdev")
	if d.err != nil {
		return
	}
	if n.Type < TypeFile || n.Type > TypeSocket {
		d.fail("node %q has unknown type %d", n.Name, n.Type)
		return
	}
	if err := ValidName(n.Name); err != nil {
		d.fail("node %d: %v", i, err)
		return
	}
	if i > 0 && prev >= n.Name {
		d.fail("names not sorted or repeated at %q", n.Name)
		return
	}
	if n.Type == TypeDir {
		copy(n.Subtree[:], d.bytes(32, "subtree"))
	}
	if n.Type == TypeFile {
		nc := d.uvarint(uint64(len(d.buf)/33), "slice count")
		// Without the slice list (Meta) nothing is allocated for it.
		if nc > 0 && !d.noContent {
			if d.views {
				n.Content, n.Sizes = slices.Grow(content, int(nc))[:nc], slices.Grow(sizes, int(nc))[:nc]
			} else {
				n.Content, n.Sizes = make([]blob.ID, nc), make([]uint32, nc)
			}
		}
		var total uint64
		for j := range nc {
			id := d.bytes(32, "slice id")
			size := uint32(d.uvarint(1<<32-1, "slice size"))
			if n.Content != nil && d.err == nil {
				copy(n.Content[j][:], id)
				n.Sizes[j] = size
			}
			if d.counting && size == d.matchSize && d.err == nil && bytes.Equal(id, d.match[:]) {
				d.matched++
			}
			total += uint64(size)
		}
		if d.err == nil && total != n.Size {
			d.fail("file %q: slices add up to %d bytes, size says %d", n.Name, total, n.Size)
		}
	}
	nx := d.uvarint(uint64(len(d.buf)/2), "xattr count")
	for j := uint64(0); j < nx && d.err == nil; j++ {
		name := d.str("xattr name")
		value := d.str("xattr value")
		if !d.views {
			n.Xattrs = append(n.Xattrs, Xattr{Name: name, Value: []byte(value)})
		} else if d.err == nil {
			n.Xattrs = append(n.Xattrs, Xattr{Name: name, Value: unsafe.Slice(unsafe.StringData(value), len(value))})
		}
	}
}

// Listing is an encoded tree, checked once, whose nodes are decoded on
// demand: a folder of a million one-slice files is 76 MB encoded and
// 310 MB as a Tree. The mount keeps listings, not Trees.
type Listing struct {
	data []byte
	offs []uint32 // offs[i] is where node i starts in data, offs[Len()] the end
}

// ParseListing checks an encoded tree as DecodeTree does and indexes its
// nodes. The listing keeps data, which must not change afterwards.
func ParseListing(data []byte) (*Listing, error) {
	if uint64(len(data)) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: tree of %d bytes is too large", ErrTreeFormat, len(data))
	}
	d := &decoder{buf: data, views: true}
	count := d.header(len(data))
	if d.err != nil {
		return nil, d.err
	}
	l := &Listing{data: data, offs: make([]uint32, 0, count+1)}
	var n Node
	prev := ""
	for i := uint64(0); i < count && d.err == nil; i++ {
		l.offs = append(l.offs, uint32(len(data)-len(d.buf)))
		d.node(&n, i, prev)
		prev = n.Name
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	l.offs = append(l.offs, uint32(len(data)))
	return l, nil
}

// Len returns the number of nodes.
func (l *Listing) Len() int { return len(l.offs) - 1 }

// Size returns the memory the listing holds, in bytes.
func (l *Listing) Size() int { return cap(l.data) + 4*cap(l.offs) }

// Node decodes node i. Its strings and attribute values share the
// listing's memory: clone those kept longer than the listing, so they do
// not keep all of it. Content and Sizes are the node's own.
func (l *Listing) Node(i int) Node {
	d := &decoder{buf: l.data[l.offs[i]:l.offs[i+1]], views: true}
	var n Node // no Content to reuse: the node gets its own
	d.node(&n, 0, "")
	return n
}

// Meta decodes node i as Node does, but without its slice list: what a
// listing needs, at no allocation.
func (l *Listing) Meta(i int) Node {
	d := &decoder{buf: l.data[l.offs[i]:l.offs[i+1]], views: true, noContent: true}
	var n Node
	d.node(&n, 0, "")
	return n
}

// MetaCounting is Meta, and for a file how many of its slices are size
// bytes and have the ID id (the mount's slices of zeros).
func (l *Listing) MetaCounting(i int, id blob.ID, size uint32) (Node, int) {
	d := &decoder{buf: l.data[l.offs[i]:l.offs[i+1]], views: true, noContent: true, counting: true, match: id, matchSize: size}
	var n Node
	d.node(&n, 0, "")
	return n, d.matched
}

// Name returns the name of node i, sharing the listing's memory (see Node).
func (l *Listing) Name(i int) string {
	d := &decoder{buf: l.data[l.offs[i]:l.offs[i+1]], views: true}
	return d.str("name")
}

// Type returns the type of node i.
func (l *Listing) Type(i int) NodeType {
	d := &decoder{buf: l.data[l.offs[i]:l.offs[i+1]], views: true}
	d.str("name")
	return NodeType(d.byte1("type"))
}

// Find returns the index of the node called name, or -1.
func (l *Listing) Find(name string) int {
	i := sort.Search(l.Len(), func(i int) bool { return l.Name(i) >= name })
	if i < l.Len() && l.Name(i) == name {
		return i
	}
	return -1
}

// Equal reports whether two trees encode identically.
func (t *Tree) Equal(o *Tree) bool { return bytes.Equal(EncodeTree(t), EncodeTree(o)) }

// TypeOf returns the node type of a file mode (a regular file for modes
// with no type bits, as on Windows).
func TypeOf(m os.FileMode) NodeType {
	switch {
	case m.IsDir():
		return TypeDir
	case m&os.ModeSymlink != 0:
		return TypeSymlink
	case m&os.ModeNamedPipe != 0:
		return TypeFIFO
	case m&os.ModeSocket != 0:
		return TypeSocket
	case m&os.ModeCharDevice != 0:
		return TypeCharDevice
	case m&os.ModeDevice != 0:
		return TypeDevice
	}
	return TypeFile
}

// UnixMode returns the POSIX S_IFMT bits of the type (the same numbers on
// every system, so mount adapters need no per-OS constants).
func (t NodeType) UnixMode() uint32 {
	switch t {
	case TypeDir:
		return 0o040000
	case TypeSymlink:
		return 0o120000
	case TypeDevice:
		return 0o060000
	case TypeCharDevice:
		return 0o020000
	case TypeFIFO:
		return 0o010000
	case TypeSocket:
		return 0o140000
	}
	return 0o100000
}

// ModeBits keeps the permission and special bits of a Go file mode in
// their Unix positions (the Mode field of a node).
func ModeBits(m os.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}
