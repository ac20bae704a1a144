// Package blob defines what the repository stores inside cabinets: blobs,
// named by a keyed hash of their plaintext (ID), of one of two types (file
// content slices and directory trees).
package blob

import (
	"encoding/hex"
	"fmt"
)

// ID names a blob (keyed hash of its plaintext: BLAKE3, or HMAC-SHA-256 in
// format 2 repositories) or a stored file
// (SHA-256 of its bytes).
type ID [32]byte

// String returns the lower-case hex form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hex digits, for messages.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is all zeros (no blob).
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses a 64-digit hex ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("invalid ID %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid ID %q: %w", s, err)
	}
	return id, nil
}

// Type says what a blob holds.
type Type uint8

const (
	// Data blobs are slices of file content.
	Data Type = 0
	// Tree blobs are encoded directory listings.
	Tree Type = 1
)

func (t Type) String() string {
	switch t {
	case Data:
		return "data"
	case Tree:
		return "tree"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return t == Data || t == Tree }
