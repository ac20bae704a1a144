package fs

import "encoding/binary"

// Inode numbers are 64-bit hashes: a session's root seeds its tree, a
// child's number hashes its parent's number with its name, so a number is
// deterministic per (device, session, path) across mounts and unique in
// practice. Hard-linked files of one session hash (session, device ID,
// inode) instead, so they share one number as on the original disk.
// Numbers below firstHashIno are left to the synthetic levels' root.

const (
	rootIno      = 1
	firstHashIno = 1 << 10

	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix finishes a hash (splitmix64) and keeps it out of the reserved range.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	if h < firstHashIno {
		h += firstHashIno
	}
	return h
}

// inoOf returns the number of a named thing under parent; kind separates
// name spaces (sessions, latest, hard links, tree entries).
func inoOf(parent uint64, kind byte, name string) uint64 {
	var b [9]byte
	binary.LittleEndian.PutUint64(b[:8], parent)
	b[8] = kind
	return mix(hashString(hashBytes(fnvOffset, b[:]), name))
}

// hardLinkIno returns the number shared by a session's hard links.
func hardLinkIno(session uint64, dev, ino uint64) uint64 {
	var b [25]byte
	binary.LittleEndian.PutUint64(b[:8], session)
	b[8] = 'h'
	binary.LittleEndian.PutUint64(b[9:17], dev)
	binary.LittleEndian.PutUint64(b[17:], ino)
	return mix(hashBytes(fnvOffset, b[:]))
}
