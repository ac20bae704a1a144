package fs

import (
	"strings"
	"unicode/utf8"
)

// Names valid on Linux or macOS but not on Windows are mapped reversibly
// (as rclone lib/encoder does): <>:"\|?* to their FULLWIDTH forms, control
// characters to U+2400 + c, a trailing space or dot to ␠ or ．, a byte
// that is not UTF-8 (Windows names are UTF-16) to U+F700 + the byte, in
// the private use area. A name that already holds one of the replacement
// characters is quoted with ‛ before it, so decoding is exact.

const quote = '‛'

func fullwidth(r rune) (rune, bool) {
	switch r {
	case '<', '>', ':', '"', '\\', '|', '?', '*':
		return r + 0xFEE0, true
	}
	if r > 0 && r < 0x20 {
		return 0x2400 + r, true
	}
	return r, false
}

func isReplacement(r rune) bool {
	switch r {
	case '＜', '＞', '：', '＂', '＼', '｜', '？', '＊', '␠', '．', quote:
		return true
	}
	return r > 0x2400 && r < 0x2420 || isRawByte(r)
}

// rawByte is where bytes that are not UTF-8 (0x80-0xFF) go.
const rawByte = 0xF700

func isRawByte(r rune) bool { return r >= rawByte+0x80 && r <= rawByte+0xFF }

// EncodeWindowsName maps a name valid on Linux or macOS but not on Windows
// to one Windows accepts; DecodeWindowsName reverses it exactly.
func EncodeWindowsName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		i += size
		last := i == len(name)
		switch {
		case r == utf8.RuneError && size == 1: // "a\xff" and "a\xfe" were both "a\uFFFD"
			b.WriteRune(rawByte + rune(name[i-1]))
		case isReplacement(r):
			b.WriteRune(quote)
			b.WriteRune(r)
		case last && r == ' ':
			b.WriteRune('␠')
		case last && r == '.':
			b.WriteRune('．')
		default:
			m, _ := fullwidth(r)
			b.WriteRune(m)
		}
	}
	return b.String()
}

// DecodeWindowsName reverses EncodeWindowsName.
func DecodeWindowsName(name string) string {
	var b strings.Builder
	quoted := false
	for _, r := range name {
		if quoted {
			b.WriteRune(r)
			quoted = false
			continue
		}
		switch {
		case r == quote:
			quoted = true
		case r == '␠':
			b.WriteByte(' ')
		case r == '．':
			b.WriteByte('.')
		case r == '＜' || r == '＞' || r == '：' || r == '＂' || r == '＼' || r == '｜' || r == '？' || r == '＊':
			b.WriteRune(r - 0xFEE0)
		case r > 0x2400 && r < 0x2420:
			b.WriteRune(r - 0x2400)
		case isRawByte(r):
			b.WriteByte(byte(r - rawByte))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
