package engine

import (
	"os"
	"os/user"
	"strconv"
	"sync"
)

// idNames caches uid/gid to name look-ups for one session.
type idNames struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

func newIDNames() *idNames {
	return &idNames{users: map[uint32]string{}, groups: map[uint32]string{}}
}

func (c *idNames) user(uid uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.users[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		n = u.Username
	}
	c.users[uid] = n
	return n
}

func (c *idNames) group(gid uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.groups[gid]; ok {
		return n
	}
	n := ""
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		n = g.Name
	}
	c.groups[gid] = n
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
