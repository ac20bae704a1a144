package engine

import (
	"maps"
	"os"
	"os/user"
	"strconv"
	"sync"
	"sync/atomic"
)

// idNames caches uid/gid to name look-ups for one session. Eight walkers
// ask for every entry they stat, nearly always for a name they know: the
// maps are read without a lock (a new name replaces the map, copied), as
// a mutex taken twice an entry was 1.2 % of a no-change backup's samples,
// and its contention woke walkers through futex calls.
type idNames struct {
	mu     sync.Mutex // serializes look-ups of names not cached yet
	users  atomic.Pointer[map[uint32]string]
	groups atomic.Pointer[map[uint32]string]
}

func newIDNames() *idNames {
	c := &idNames{}
	c.users.Store(&map[uint32]string{})
	c.groups.Store(&map[uint32]string{})
	return c
}

func (c *idNames) user(uid uint32) string {
	return c.name(&c.users, uid, func(id string) string {
		if u, err := user.LookupId(id); err == nil {
			return u.Username
		}
		return ""
	})
}

func (c *idNames) group(gid uint32) string {
	return c.name(&c.groups, gid, func(id string) string {
		if g, err := user.LookupGroupId(id); err == nil {
			return g.Name
		}
		return ""
	})
}

// name is id's name in names, looked up (once: "" when the system has
// none) if it is not there yet.
func (c *idNames) name(names *atomic.Pointer[map[uint32]string], id uint32, lookup func(string) string) string {
	if n, ok := (*names.Load())[id]; ok {
		return n
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	known := *names.Load()
	if n, ok := known[id]; ok {
		return n
	}
	n := lookup(strconv.FormatUint(uint64(id), 10))
	next := make(map[uint32]string, len(known)+1)
	maps.Copy(next, known)
	next[id] = n
	names.Store(&next)
	return n
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// fileMode is the reverse of modeBits.
func fileMode(bits uint32) os.FileMode {
	m := os.FileMode(bits & 0o777)
	if bits&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if bits&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if bits&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}
