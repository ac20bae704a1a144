package gofuse

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// countingDirs stands in for go-fuse's node file system below opendirless:
// folders of entries entries, each READDIRPLUS returning one; it counts
// the listing handles open.
type countingDirs struct {
	fuse.RawFileSystem
	entries uint64
	mu      sync.Mutex
	next    uint64
	open    map[uint64]bool
}

func (c *countingDirs) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	c.open[c.next] = true
	out.Fh = c.next
	return fuse.OK
}

func (c *countingDirs) ReleaseDir(in *fuse.ReleaseIn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.open[in.Fh] {
		panic(fmt.Sprintf("release of handle %d, not open", in.Fh))
	}
	delete(c.open, in.Fh)
}

func (c *countingDirs) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	c.mu.Lock()
	ok := c.open[in.Fh]
	c.mu.Unlock()
	if !ok {
		return fuse.EBADF
	}
	if in.Offset < c.entries {
		out.AddDirLookupEntry(fuse.DirEntry{Name: fmt.Sprint("e", in.Offset), Mode: fuse.S_IFREG})
	}
	return fuse.OK
}

// Listings left before their end (ls | head) keep no more than
// maxOpenListings handles open; each listing still reads to its end, a
// finished one releases its handle, and a listing whose handle was taken
// goes on where it was with a new one.
func TestOpenListingsBounded(t *testing.T) {
	inner := &countingDirs{RawFileSystem: fuse.NewDefaultRawFileSystem(), entries: 3, open: map[uint64]bool{}}
	r := listingRequests(inner, &adapter{}).(*opendirless)
	read := func(node, off uint64) (uint64, fuse.Status) {
		out := fuse.NewDirEntryList(make([]byte, 4096), off)
		st := r.ReadDirPlus(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: node}, Offset: off}, out)
		return out.Offset, st
	}
	const folders = 3 * maxOpenListings
	for node := uint64(1); node <= folders; node++ {
		if next, st := read(node, 0); st != fuse.OK || next != 1 {
			t.Fatalf("folder %d: first listing request: %v, next offset %d", node, st, next)
		}
	}
	if n := len(inner.open); n > maxOpenListings {
		t.Errorf("%d listings left after one request each keep %d handles open, want at most %d", folders, n, maxOpenListings)
	}
	// The first folder's handle was released; its listing goes on.
	for off := uint64(1); ; {
		next, st := read(1, off)
		if st != fuse.OK {
			t.Fatalf("folder 1 at %d: %v", off, st)
		}
		if next == off {
			break
		}
		off = next
		if off > inner.entries {
			t.Fatalf("folder 1 listed past its %d entries", inner.entries)
		}
	}
	r.Forget(2, 1)
	if n := len(inner.open); n > maxOpenListings {
		t.Errorf("%d handles open at the end, want at most %d", n, maxOpenListings)
	}
}
