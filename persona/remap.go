package persona

import (
	"bytes"
	"net/url"
	"path"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Remapper rewrites the source home and user name to the target's inside
// text settings files (prefs.js, plist XML, .reg exports, dconf dumps,
// INI, JSON), the way %USERPROFILE% is resolved on a new device.
//
// The home is replaced in every spelling a settings file uses for it:
// as is, with forward slashes, with doubled backslashes (.reg and JSON
// strings), percent-encoded (file:// URLs) and, for Windows homes, without
// regard to case. A match must end at a name boundary: /home/ann does not
// match /home/anna. The user name alone is replaced only where it is a
// whole component of a path (/var/mail/ann, \\server\users\ann), never in
// a web URL or in prose.
type Remapper struct {
	pairs    []pair
	fold     bool
	srcUser  string
	dstUser  string
	hostFrom string
	hostTo   string
}

type pair struct{ from, to, url string } // url: to inside a file:// URL

// NewRemapper returns a Remapper for one persona. family is the OS family
// of both sides (compatibility checks guarantee they match). hostFrom and
// hostTo are the macOS hardware UUIDs used in ByHost preference names
// (may be empty).
func NewRemapper(family, srcHome, dstHome, srcUser, dstUser, hostFrom, hostTo string) *Remapper {
	r := &Remapper{fold: family == Windows, srcUser: srcUser, dstUser: dstUser, hostFrom: hostFrom, hostTo: hostTo}
	if srcUser == dstUser {
		r.srcUser, r.dstUser = "", ""
	}
	srcHome = strings.TrimRight(srcHome, `/\`)
	dstHome = strings.TrimRight(dstHome, `/\`)
	if srcHome == "" || srcHome == dstHome && r.srcUser == "" {
		return r
	}
	add := func(from, to string, escaped bool) {
		if from == "" || from == to {
			return
		}
		for _, p := range r.pairs {
			if p.from == from {
				return
			}
		}
		u := to
		if !escaped {
			u = escapePath(strings.ReplaceAll(to, `\`, "/"))
		}
		r.pairs = append(r.pairs, pair{from, to, u})
	}
	if family == Windows {
		bs := func(s string) string { return strings.ReplaceAll(s, "/", `\`) }
		fw := func(s string) string { return strings.ReplaceAll(s, `\`, "/") }
		add(strings.ReplaceAll(bs(srcHome), `\`, `\\`), strings.ReplaceAll(bs(dstHome), `\`, `\\`), false)
		add(bs(srcHome), bs(dstHome), false)
		add(fw(srcHome), fw(dstHome), false)
		add(escapePath(fw(srcHome)), escapePath(fw(dstHome)), true)
	} else {
		add(srcHome, dstHome, false)
		add(escapePath(srcHome), escapePath(dstHome), true)
	}
	// Longest first, so the doubled-backslash form wins over its parts.
	for i := 1; i < len(r.pairs); i++ {
		for j := i; j > 0 && len(r.pairs[j].from) > len(r.pairs[j-1].from); j-- {
			r.pairs[j], r.pairs[j-1] = r.pairs[j-1], r.pairs[j]
		}
	}
	return r
}

func escapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// Identity reports whether the remapper changes nothing.
func (r *Remapper) Identity() bool {
	return len(r.pairs) == 0 && r.srcUser == "" && (r.hostFrom == "" || r.hostFrom == r.hostTo || r.hostTo == "")
}

// String rewrites one string.
func (r *Remapper) String(s string) string {
	if r.Identity() {
		return s
	}
	s = r.replaceHome(s)
	if r.srcUser != "" {
		s = r.replaceUser(s)
	}
	return s
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c >= 0x80
}

func (r *Remapper) replaceHome(s string) string {
	if len(r.pairs) == 0 {
		return s
	}
	hay := s
	if r.fold {
		hay = strings.ToLower(s)
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		matched := false
		for _, p := range r.pairs {
			from := p.from
			if r.fold {
				from = strings.ToLower(from)
			}
			if !strings.HasPrefix(hay[i:], from) {
				continue
			}
			end := i + len(from)
			if end < len(s) && isNameByte(s[end]) {
				continue
			}
			if i > 0 && isNameByte(s[i-1]) && !strings.ContainsAny(from[:1], `/\`) {
				continue // a Windows drive letter glued to a name: not a path start
			}
			b.WriteString(s[last:i])
			if strings.HasSuffix(strings.ToLower(s[:i]), "file://") || r.fold && strings.HasSuffix(strings.ToLower(s[:i]), "file:///") {
				b.WriteString(p.url)
			} else {
				b.WriteString(p.to)
			}
			i, last, matched = end, end, true
			break
		}
		if !matched {
			i++
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// replaceUser rewrites the user name where it is a whole path component
// inside a token that is a file path (not an http(s) URL).
func (r *Remapper) replaceUser(s string) string {
	u := r.srcUser
	var b strings.Builder
	last := 0
	for i := 0; i+len(u) < len(s)+1; i++ {
		if i == 0 || (s[i-1] != '/' && s[i-1] != '\\') {
			continue
		}
		if !(r.fold && strings.EqualFold(s[i:min(i+len(u), len(s))], u) || s[i:min(i+len(u), len(s))] == u) {
			continue
		}
		end := i + len(u)
		if end < len(s) && isNameByte(s[end]) {
			continue
		}
		if end < len(s) && strings.IndexByte(`/\"'<>;:,)= `+"\t\r\n\x00", s[end]) < 0 {
			continue
		}
		if !pathToken(s, i) {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(r.dstUser)
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// pathToken reports whether position i lies in a token that looks like a
// file path: starting at "/", "~", "\\" or a drive letter, or a file:// URL.
func pathToken(s string, i int) bool {
	start := i
	for start > 0 && strings.IndexByte("\"' \t\r\n=(,<>;\x00", s[start-1]) < 0 {
		start--
	}
	tok := s[start:i]
	if strings.Contains(tok, "://") {
		return strings.HasPrefix(strings.ToLower(tok), "file://")
	}
	if tok == "" {
		return false
	}
	switch {
	case tok[0] == '/' || tok[0] == '~' || tok[0] == '\\':
		return true
	case len(tok) >= 3 && tok[1] == ':' && (tok[2] == '\\' || tok[2] == '/'):
		return true
	}
	return false
}

// Path rewrites a slash-separated path relative to the home: only macOS
// ByHost preference names change (their hardware UUID becomes the target's).
func (r *Remapper) Path(rel string) string {
	if r.hostFrom == "" || r.hostTo == "" || r.hostFrom == r.hostTo {
		return rel
	}
	dir, name := path.Split(rel)
	if strings.HasSuffix(dir, "Preferences/ByHost/") && strings.Contains(name, r.hostFrom) {
		return dir + strings.ReplaceAll(name, r.hostFrom, r.hostTo)
	}
	return rel
}

// Text rewrites a settings file's content when it is text: UTF-8 without
// NUL bytes, or UTF-16LE with a byte order mark (Windows .reg exports);
// the encoding is kept. Binary content (SQLite, binary plists) is returned
// unchanged with ok false. XML content gets the new home XML-escaped.
func (r *Remapper) Text(data []byte) (out []byte, ok bool) {
	if r.Identity() {
		return data, IsText(data)
	}
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		s, err := decodeUTF16LE(data[2:])
		if err != nil {
			return data, false
		}
		return append([]byte{0xFF, 0xFE}, encodeUTF16LE(r.textString(s))...), true
	case IsText(data):
		return []byte(r.textString(string(data))), true
	}
	return data, false
}

func (r *Remapper) textString(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "<?xml") {
		x := r.xmlEscaped()
		return x.String(s)
	}
	if strings.HasPrefix(s, "Windows Registry Editor") || strings.HasPrefix(s, "\ufeffWindows Registry Editor") || strings.HasPrefix(s, "REGEDIT4") {
		if f, err := ParseReg(s); err == nil {
			f.Remap(r)
			return f.String()
		}
	}
	return r.String(s)
}

func (r *Remapper) xmlEscaped() *Remapper {
	c := *r
	c.pairs = make([]pair, len(r.pairs))
	for i, p := range r.pairs {
		c.pairs[i] = pair{xmlEscape(p.from), xmlEscape(p.to), xmlEscape(p.url)}
	}
	c.srcUser, c.dstUser = xmlEscape(r.srcUser), xmlEscape(r.dstUser)
	return &c
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// IsText reports whether data is UTF-8 text without NUL bytes, or
// UTF-16LE text with a byte order mark.
func IsText(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		_, err := decodeUTF16LE(data[2:])
		return err == nil
	}
	return bytes.IndexByte(data, 0) < 0 && utf8.Valid(data)
}

func decodeUTF16LE(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errOddUTF16
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u)), nil
}

func encodeUTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return b
}
