package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
)

func sampleTree() *Tree {
	t := &Tree{Nodes: []Node{
		{Name: "dir", Type: TypeDir, Mode: 0o2755, Subtree: blob.ID{7}, ModTime: 1700000000123456789},
		{Name: "empty", Type: TypeFile, Mode: 0o600},
		{Name: "file", Type: TypeFile, Mode: 0o644, UID: 1000, GID: 100, User: "ann", Group: "users", Size: 30,
			Content: []blob.ID{{1}, {2}}, Sizes: []uint32{10, 20}, Inode: 99, DeviceID: 3, Links: 2,
			Xattrs: []Xattr{{Name: "user.a", Value: []byte{0, 1}}}},
		{Name: "link", Type: TypeSymlink, Mode: 0o777, Target: "../x"},
		{Name: "new\nline \xff\xfe ünï", Type: TypeFIFO, ModTime: -5},
	}}
	t.Sort()
	return t
}

func TestTreeRoundTripIsDeterministic(t *testing.T) {
	tr := sampleTree()
	enc := EncodeTree(tr)
	got, err := DecodeTree(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(EncodeTree(got), enc) {
		t.Fatal("re-encoding differs")
	}
	if n := got.Find("file"); n == nil || n.Sizes[1] != 20 || n.User != "ann" || string(n.Xattrs[0].Value) != "\x00\x01" {
		t.Fatalf("file node: %+v", n)
	}
}

func TestDecodeTreeRefusesUnsafeAndInconsistent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []Node
		want  string
	}{
		{"dot dot", []Node{{Name: "..", Type: TypeDir}}, "leave"},
		{"slash", []Node{{Name: "a/b", Type: TypeFile}}, "separator"},
		{"empty name", []Node{{Name: "", Type: TypeFile}}, "empty"},
		{"unsorted", []Node{{Name: "b", Type: TypeFile}, {Name: "a", Type: TypeFile}}, "sorted"},
		{"duplicate", []Node{{Name: "a", Type: TypeFile}, {Name: "a", Type: TypeFile}}, "sorted"},
		{"size mismatch", []Node{{Name: "a", Type: TypeFile, Size: 5, Content: []blob.ID{{1}}, Sizes: []uint32{4}}}, "add up"},
		{"unknown type", []Node{{Name: "a", Type: 42}}, "unknown type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := EncodeTree(&Tree{Nodes: tc.nodes})
			_, err := DecodeTree(enc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
			if _, err := ParseListing(enc); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("listing: got %v, want error containing %q", err, tc.want)
			}
		})
	}
	if _, err := DecodeTree([]byte{9, 0}); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := ParseListing([]byte{9, 0}); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("listing, unknown version: %v", err)
	}
}

func TestListingDecodesOnDemand(t *testing.T) {
	tr := sampleTree()
	l, err := ParseListing(EncodeTree(tr))
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != len(tr.Nodes) {
		t.Fatalf("Len = %d, want %d", l.Len(), len(tr.Nodes))
	}
	for i, want := range tr.Nodes {
		if got := l.Node(i); !bytes.Equal(EncodeTree(&Tree{Nodes: []Node{got}}), EncodeTree(&Tree{Nodes: []Node{want}})) {
			t.Errorf("node %d: %+v, want %+v", i, got, want)
		}
		meta, full := l.Meta(i), l.Node(i)
		full.Content, full.Sizes = nil, nil
		if !reflect.DeepEqual(meta, full) {
			t.Errorf("meta %d: %+v, want %+v without slices", i, meta, full)
		}
		if l.Find(want.Name) != i {
			t.Errorf("Find(%q) = %d, want %d", want.Name, l.Find(want.Name), i)
		}
	}
	for _, name := range []string{"", "a", "fil", "filf", "zzz"} {
		if i := l.Find(name); i != -1 {
			t.Errorf("Find(%q) = %d, want -1", name, i)
		}
	}
	// A node's content is its own: changing it changes nothing else.
	i := l.Find("file")
	n := l.Node(i)
	n.Content[0] = blob.ID{9}
	if l.Node(i).Content[0] != (blob.ID{1}) {
		t.Fatal("a node's content aliases the listing")
	}
}

func TestTimeNamesAndFind(t *testing.T) {
	base := time.Date(2026, 11, 21, 10, 30, 5, 0, time.UTC)
	ss := []*Session{
		{Time: base, Ref: repo.SessionRef{Name: "aaaa1111"}},
		{Time: base.Add(300 * time.Millisecond), Ref: repo.SessionRef{Name: "bbbb2222"}},
		{Time: base.Add(time.Hour), Ref: repo.SessionRef{Name: "cccc3333"}},
	}
	names := TimeNames(ss, time.UTC)
	want := []string{"2026-11-21 10.30.05", "2026-11-21 10.30.05 (2)", "2026-11-21 11.30.05"}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names %q, want %q", names, want)
		}
	}
	for _, tc := range []struct{ spec, want string }{
		{"latest", "cccc3333"}, {"bbbb", "bbbb2222"}, {"2026-11-21 10.30.05 (2)", "bbbb2222"}, {"2026-11-21 10.30.05", "aaaa1111"},
	} {
		s, err := Find(ss, tc.spec, time.UTC)
		if err != nil || s.Ref.Name != tc.want {
			t.Fatalf("Find(%q) = %v, %v; want %s", tc.spec, s, err, tc.want)
		}
	}
	if _, err := Find(ss, "zzz", time.UTC); err == nil {
		t.Fatal("found a session that does not exist")
	}
}

func TestSessionRoundTrip(t *testing.T) {
	s := &Session{FormatVersion: SessionVersion, Device: "d", Source: SourceFiles, Time: time.Unix(1700000000, 5).UTC(), Tree: blob.ID{3}, Paths: []string{"/x"}, Status: StatusCompleted}
	data, err := EncodeSession(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSession(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tree != s.Tree || !got.Time.Equal(s.Time) || got.Device != "d" {
		t.Fatalf("got %+v", got)
	}
	newer := bytes.Replace(data, []byte(`"format_version":1`), []byte(`"format_version":2`), 1)
	if _, err := DecodeSession(newer); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("newer session: %v", err)
	}
}

func writeSeed(f *testing.F, name string, data []byte) {
	if os.Getenv("CABINET_WRITE_FUZZ_SEEDS") == "" {
		return
	}
	dir := filepath.Join("testdata", "fuzz", name)
	os.MkdirAll(dir, 0o755)
	var q strings.Builder
	for _, c := range data {
		q.WriteString("\\x")
		q.WriteByte("0123456789abcdef"[c>>4])
		q.WriteByte("0123456789abcdef"[c&15])
	}
	os.WriteFile(filepath.Join(dir, "seed-valid"), []byte("go test fuzz v1\n[]byte(\""+q.String()+"\")\n"), 0o644)
}

func FuzzDecodeTree(f *testing.F) {
	enc := EncodeTree(sampleTree())
	f.Add(enc)
	f.Add([]byte{TreeVersion, 0})
	writeSeed(f, "FuzzDecodeTree", enc)
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := DecodeTree(data)
		l, lerr := ParseListing(data)
		if (err == nil) != (lerr == nil) {
			t.Fatalf("DecodeTree: %v, ParseListing: %v", err, lerr)
		}
		if err != nil {
			return
		}
		viewed := &Tree{}
		for i := range l.Len() {
			viewed.Nodes = append(viewed.Nodes, l.Node(i))
			if l.Name(i) != tr.Nodes[i].Name || l.Find(tr.Nodes[i].Name) != i {
				t.Fatalf("listing name %d: %q, found at %d", i, l.Name(i), l.Find(tr.Nodes[i].Name))
			}
		}
		if l.Len() != len(tr.Nodes) || !bytes.Equal(EncodeTree(viewed), data) {
			t.Fatal("listing nodes differ from the decoded tree")
		}
		for _, n := range tr.Nodes {
			if ValidName(n.Name) != nil {
				t.Fatalf("accepted unsafe name %q", n.Name)
			}
		}
		if !bytes.Equal(EncodeTree(tr), data) {
			t.Fatal("decoded tree does not re-encode to the same bytes")
		}
	})
}

func FuzzDecodeSession(f *testing.F) {
	data, _ := EncodeSession(&Session{FormatVersion: 1, Device: "d", Time: time.Unix(1, 0).UTC(), Tree: blob.ID{1}})
	f.Add(data)
	writeSeed(f, "FuzzDecodeSession", data)
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeSession(data) // must not panic
	})
}

func TestTypeOfAndUnixMode(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		want NodeType
		ifmt uint32
	}{
		{0o644, TypeFile, 0o100000},
		{os.ModeDir | 0o755, TypeDir, 0o040000},
		{os.ModeSymlink | 0o777, TypeSymlink, 0o120000},
		{os.ModeNamedPipe, TypeFIFO, 0o010000},
		{os.ModeSocket, TypeSocket, 0o140000},
		{os.ModeDevice | os.ModeCharDevice, TypeCharDevice, 0o020000},
		{os.ModeDevice, TypeDevice, 0o060000},
	} {
		if got := TypeOf(tc.mode); got != tc.want || got.UnixMode() != tc.ifmt {
			t.Errorf("TypeOf(%v) = %v (%o), want %v (%o)", tc.mode, got, got.UnixMode(), tc.want, tc.ifmt)
		}
	}
	if got := ModeBits(os.ModeSetgid | os.ModeSticky | 0o750); got != 0o3750 {
		t.Errorf("ModeBits = %o, want 3750", got)
	}
}

func TestCanonicalVarintLengths(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, 1<<35 - 1, 1 << 35, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		if got, want := uvarintLen(v), len(binary.AppendUvarint(nil, v)); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", v, got, want)
		}
		s := int64(v)
		if got, want := uvarintLen(zigzag(s)), len(binary.AppendVarint(nil, s)); got != want {
			t.Errorf("varint length of %d = %d, want %d", s, got, want)
		}
		if got, want := uvarintLen(zigzag(-s)), len(binary.AppendVarint(nil, -s)); got != want {
			t.Errorf("varint length of %d = %d, want %d", -s, got, want)
		}
	}
}

// TestFindTimeNamesPerDevice: time names are given per device and data
// source, as 'cabinet sessions' and the mount show them. Find named them
// over every device: with two devices backing up in the same second,
// "... (2)" picked the other device's session, and "... (3)" resolved
// though no device lists it.
func TestFindTimeNamesPerDevice(t *testing.T) {
	base := time.Date(2026, 11, 21, 10, 30, 5, 0, time.UTC)
	ss := []*Session{
		{Device: "alpha", Source: SourceFiles, Time: base.Add(100 * time.Millisecond), Ref: repo.SessionRef{Name: "a1"}},
		{Device: "beta", Source: SourceFiles, Time: base.Add(200 * time.Millisecond), Ref: repo.SessionRef{Name: "b1"}},
		{Device: "alpha", Source: SourceFiles, Time: base.Add(300 * time.Millisecond), Ref: repo.SessionRef{Name: "a2"}},
		{Device: "alpha", Source: SourcePersona, Time: base.Add(400 * time.Millisecond), Ref: repo.SessionRef{Name: "p1"}},
		{Device: "beta", Source: SourceFiles, Time: base.Add(time.Hour), Ref: repo.SessionRef{Name: "b2"}},
	}
	const x = "2026-11-21 10.30.05"
	names := GroupTimeNames(ss, time.UTC)
	want := []string{x, x, x + " (2)", x, "2026-11-21 11.30.05"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("names %q, want %q", names, want)
	}
	s, err := Find(ss, x+" (2)", time.UTC)
	if err != nil || s.Ref.Name != "a2" {
		t.Fatalf("Find(%q) = %v, %v; want a2", x+" (2)", s, err)
	}
	if s, err := Find(ss, x+" (3)", time.UTC); err == nil {
		t.Fatalf("Find(%q) = %s, want an error: no device lists it", x+" (3)", s.Ref.Name)
	}
	_, err = Find(ss, x, time.UTC)
	var ae *AmbiguousError
	if !errors.As(err, &ae) || len(ae.Sessions) != 3 || !ae.Devices() {
		t.Fatalf("Find(%q) = %v, want an AmbiguousError naming 3 sessions of 2 devices", x, err)
	}
	// Among one device's sessions of one source, the name is one session.
	var alphaFiles []*Session
	for _, s := range ss {
		if s.Device == "alpha" && s.Source == SourceFiles {
			alphaFiles = append(alphaFiles, s)
		}
	}
	if s, err := Find(alphaFiles, x, time.UTC); err != nil || s.Ref.Name != "a1" {
		t.Fatalf("Find(alpha files, %q) = %v, %v; want a1", x, s, err)
	}
	// One device, two sources: ambiguous, but not between devices.
	_, err = Find(ss[2:4], x+" (2)", time.UTC)
	if err == nil {
		// ss[2:4] are a2 (files) and p1 (persona), each the first of its group.
		t.Fatal("found a name no group lists")
	}
	_, err = Find(ss[2:4], x, time.UTC)
	if !errors.As(err, &ae) || ae.Devices() {
		t.Fatalf("Find(a2+p1, %q) = %v, want an AmbiguousError of one device", x, err)
	}
}

// MetaCounting counts a file's slices of one ID and size, and is Meta
// otherwise.
func TestListingMetaCounting(t *testing.T) {
	z, other := blob.ID{1}, blob.ID{2}
	const max = 4 << 20
	file := func(name string, ids []blob.ID, sizes []uint32) Node {
		var size uint64
		for _, s := range sizes {
			size += uint64(s)
		}
		return Node{Name: name, Type: TypeFile, Mode: 0o644, Size: size, Content: ids, Sizes: sizes}
	}
	tr := &Tree{Nodes: []Node{
		file("a", []blob.ID{z, other, z, z}, []uint32{max, max, max, 100}),
		file("b", []blob.ID{other}, []uint32{max}),
		file("c", nil, nil),
		{Name: "d", Type: TypeDir, Mode: 0o755, Subtree: z},
	}}
	l, err := ParseListing(EncodeTree(tr))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{2, 0, 0, 0} {
		n, got := l.MetaCounting(i, z, max)
		if got != want {
			t.Errorf("%s: %d slices counted, want %d", tr.Nodes[i].Name, got, want)
		}
		if meta := l.Meta(i); !reflect.DeepEqual(n, meta) {
			t.Errorf("%s: %+v, want Meta's %+v", tr.Nodes[i].Name, n, meta)
		}
	}
}
