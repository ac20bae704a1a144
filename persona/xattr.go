package persona

import (
	"bytes"
	"strings"
)

// portableXattr reports whether an extended attribute moves with a
// setting: user attributes on Linux (never security.*, trusted.* or
// system.*: file capabilities and ACLs are the target system's business),
// and everything on macOS but quarantine and provenance marks.
func portableXattr(name string) bool {
	switch {
	case strings.HasPrefix(name, "user."):
		return true
	case strings.HasPrefix(name, "com.apple."):
		return name != "com.apple.quarantine" && name != "com.apple.provenance" && name != "com.apple.macl"
	}
	return false
}

func xattrsEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}
