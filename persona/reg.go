package persona

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

var errOddUTF16 = errors.New("odd number of bytes in UTF-16 text")

// ErrRegFormat is wrapped by every .reg parsing error.
var ErrRegFormat = errors.New("invalid .reg export")

// RegFile is a parsed Windows registry export (reg export / regedit), the
// format of exports/<entry>/*.reg on Windows personas.
type RegFile struct {
	Header string // "Windows Registry Editor Version 5.00" or "REGEDIT4"
	Keys   []RegKey
}

// RegKey is one [key] section.
type RegKey struct {
	Name   string // HKEY_CURRENT_USER\...
	Delete bool   // [-key]
	Values []RegValue
}

// RegValue is one value line. Name "" is the default value (@).
type RegValue struct {
	Name string
	// Type is "sz" for "string" values, "dword", "qword" style names for
	// dword:, "delete" for =-, or the hex type: "hex", "hex(2)", "hex(7)", "hex(b)", ...
	Type string
	// Str holds the unescaped string of an sz value; for hex(2) and hex(7)
	// the decoded UTF-16 text (multi-strings joined with "\x00").
	Str string
	// Data holds the bytes of hex values; DWord the number of dword values.
	Data  []byte
	DWord uint32
	raw   string // the original lines, kept while the value is unchanged
}

// DecodeReg parses a .reg export in UTF-16LE with byte order mark (as reg
// export and regedit write it) or UTF-8/ASCII (REGEDIT4).
func DecodeReg(data []byte) (*RegFile, error) {
	var s string
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		t, err := decodeUTF16LE(data[2:])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRegFormat, err)
		}
		s = t
	} else {
		s = strings.TrimPrefix(string(data), "\ufeff")
	}
	return ParseReg(s)
}

// ParseReg parses the text of a .reg export.
func ParseReg(s string) (*RegFile, error) {
	s = strings.TrimPrefix(s, "\ufeff")
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	f := &RegFile{}
	i := 0
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	if i == len(lines) {
		return nil, fmt.Errorf("%w: empty", ErrRegFormat)
	}
	f.Header = strings.TrimSpace(lines[i])
	if f.Header != "Windows Registry Editor Version 5.00" && f.Header != "REGEDIT4" {
		return nil, fmt.Errorf("%w: header %q", ErrRegFormat, f.Header)
	}
	i++
	var cur *RegKey
	for ; i < len(lines); i++ {
		line := lines[i]
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, ";"):
			continue
		case strings.HasPrefix(t, "["):
			if !strings.HasSuffix(t, "]") {
				return nil, fmt.Errorf("%w: line %d: key without ]", ErrRegFormat, i+1)
			}
			name := t[1 : len(t)-1]
			k := RegKey{Name: name}
			if strings.HasPrefix(name, "-") {
				k.Name, k.Delete = name[1:], true
			}
			f.Keys = append(f.Keys, k)
			cur = &f.Keys[len(f.Keys)-1]
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("%w: line %d: value outside a key", ErrRegFormat, i+1)
		}
		raw := []string{line}
		logical := t
		for strings.HasSuffix(logical, `\`) && i+1 < len(lines) && isContinuation(logical) {
			i++
			raw = append(raw, lines[i])
			logical = logical[:len(logical)-1] + strings.TrimSpace(lines[i])
		}
		v, err := parseRegValue(logical)
		if err != nil {
			return nil, fmt.Errorf("%w: key %s, line %d: %w", ErrRegFormat, cur.Name, i+1, err)
		}
		v.raw = strings.Join(raw, "\r\n")
		cur.Values = append(cur.Values, v)
	}
	return f, nil
}

// isContinuation: a trailing backslash continues hex data, not a string
// value ending in an escaped backslash.
func isContinuation(logical string) bool {
	eq := strings.Index(logical, "=")
	if eq < 0 {
		return true
	}
	if _, rest, err := parseRegName(logical); err == nil {
		return strings.HasPrefix(strings.TrimSpace(rest), "=hex")
	}
	return true
}

// parseRegName reads the quoted name or @ at the start of a value line.
func parseRegName(s string) (name, rest string, err error) {
	if strings.HasPrefix(s, "@") {
		return "", s[1:], nil
	}
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("value name must be quoted or @")
	}
	str, n, err := unquoteReg(s)
	if err != nil {
		return "", "", err
	}
	return str, s[n:], nil
}

// unquoteReg reads a "..." string with \\ and \" escapes; n is the length consumed.
func unquoteReg(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
				continue
			}
			return "", 0, fmt.Errorf("dangling backslash")
		case '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

func quoteReg(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func parseRegValue(line string) (RegValue, error) {
	name, rest, err := parseRegName(line)
	if err != nil {
		return RegValue{}, err
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "=") {
		return RegValue{}, fmt.Errorf("value %q: missing =", name)
	}
	rest = strings.TrimSpace(rest[1:])
	v := RegValue{Name: name}
	switch {
	case rest == "-":
		v.Type = "delete"
	case strings.HasPrefix(rest, `"`):
		str, n, err := unquoteReg(rest)
		if err != nil {
			return v, fmt.Errorf("value %q: %w", name, err)
		}
		if strings.TrimSpace(rest[n:]) != "" {
			return v, fmt.Errorf("value %q: text after the string", name)
		}
		v.Type, v.Str = "sz", str
	case strings.HasPrefix(rest, "dword:"):
		if _, err := fmt.Sscanf(rest[6:], "%08x", &v.DWord); err != nil || len(rest[6:]) != 8 {
			return v, fmt.Errorf("value %q: dword %q", name, rest[6:])
		}
		v.Type = "dword"
	case strings.HasPrefix(rest, "hex"):
		colon := strings.Index(rest, ":")
		if colon < 0 {
			return v, fmt.Errorf("value %q: hex without colon", name)
		}
		v.Type = rest[:colon]
		if v.Type != "hex" && !(strings.HasPrefix(v.Type, "hex(") && strings.HasSuffix(v.Type, ")")) {
			return v, fmt.Errorf("value %q: type %q", name, v.Type)
		}
		hx := strings.ReplaceAll(strings.ReplaceAll(rest[colon+1:], ",", ""), " ", "")
		b, err := hex.DecodeString(hx)
		if err != nil {
			return v, fmt.Errorf("value %q: %w", name, err)
		}
		v.Data = b
		if v.Type == "hex(2)" || v.Type == "hex(7)" {
			s, err := decodeUTF16LE(b)
			if err != nil {
				return v, fmt.Errorf("value %q: %w", name, err)
			}
			v.Str = s
		}
	default:
		return v, fmt.Errorf("value %q: unknown data %q", name, rest)
	}
	return v, nil
}

// Key returns the key with a name (case-insensitive, as the registry is).
func (f *RegFile) Key(name string) (*RegKey, bool) {
	for i := range f.Keys {
		if strings.EqualFold(f.Keys[i].Name, name) {
			return &f.Keys[i], true
		}
	}
	return nil, false
}

// Value returns a value of the key by name (case-insensitive).
func (k *RegKey) Value(name string) (*RegValue, bool) {
	for i := range k.Values {
		if strings.EqualFold(k.Values[i].Name, name) {
			return &k.Values[i], true
		}
	}
	return nil, false
}

// Text returns a string value's text: sz as is, hex(2) without the
// terminating NUL, hex(7) as its strings.
func (v *RegValue) Text() []string {
	switch v.Type {
	case "sz":
		return []string{v.Str}
	case "hex(2)":
		return []string{strings.TrimRight(v.Str, "\x00")}
	case "hex(7)":
		var out []string
		for _, p := range strings.Split(strings.TrimRight(v.Str, "\x00"), "\x00") {
			out = append(out, p)
		}
		return out
	}
	return nil
}

// Remap rewrites the home and user name in string values: sz, and the
// UTF-16 strings of expandable (hex(2)) and multi-string (hex(7)) values.
// Binary values are left as they are.
func (f *RegFile) Remap(r *Remapper) {
	for ki := range f.Keys {
		for vi := range f.Keys[ki].Values {
			v := &f.Keys[ki].Values[vi]
			switch v.Type {
			case "sz":
				if s := r.String(v.Str); s != v.Str {
					v.Str, v.raw = s, ""
				}
			case "hex(2)", "hex(7)":
				if s := r.String(v.Str); s != v.Str {
					v.Str, v.raw = s, ""
					v.Data = encodeUTF16LE(s)
				}
			}
		}
	}
}

// String returns the export's text with CRLF line ends. Unchanged values
// keep their original lines.
func (f *RegFile) String() string {
	var b strings.Builder
	b.WriteString(f.Header + "\r\n\r\n")
	for _, k := range f.Keys {
		if k.Delete {
			b.WriteString("[-" + k.Name + "]\r\n")
		} else {
			b.WriteString("[" + k.Name + "]\r\n")
		}
		for _, v := range k.Values {
			if v.raw != "" {
				b.WriteString(v.raw + "\r\n")
				continue
			}
			b.WriteString(v.encode() + "\r\n")
		}
		b.WriteString("\r\n")
	}
	return b.String()
}

// Encode returns the export as reg import reads it: UTF-16LE with a byte
// order mark for version 5 files, ASCII for REGEDIT4.
func (f *RegFile) Encode() []byte {
	s := f.String()
	if f.Header == "REGEDIT4" {
		return []byte(s)
	}
	return append([]byte{0xFF, 0xFE}, encodeUTF16LE(s)...)
}

func (v *RegValue) encode() string {
	name := "@"
	if v.Name != "" {
		name = quoteReg(v.Name)
	}
	switch v.Type {
	case "delete":
		return name + "=-"
	case "sz":
		return name + "=" + quoteReg(v.Str)
	case "dword":
		return fmt.Sprintf("%s=dword:%08x", name, v.DWord)
	}
	// hex data wrapped the way regedit does: lines up to 80 characters,
	// continued with a backslash and two spaces of indent.
	prefix := name + "=" + v.Type + ":"
	var b strings.Builder
	b.WriteString(prefix)
	col := len(prefix)
	for i, c := range v.Data {
		item := fmt.Sprintf("%02x", c)
		if i < len(v.Data)-1 {
			item += ","
		}
		if col+len(item) > 79 && i < len(v.Data) {
			b.WriteString("\\\r\n  ")
			col = 2
		}
		b.WriteString(item)
		col += len(item)
	}
	return b.String()
}
