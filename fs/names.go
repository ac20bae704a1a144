package fs

import (
	"strings"
	"unicode/utf8"
)

// Names valid on Linux or macOS but not on Windows are mapped reversibly
// (as rclone lib/encoder does): <>:"\|?* to their FULLWIDTH forms, control
// characters to U+2400 + c, a trailing space or dot to ␠ or ．. A name
// that already holds one of the replacement characters is quoted with ‛
// before it, so decoding is exact.

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
	return r > 0x2400 && r < 0x2420
}

// EncodeWindowsName maps a name valid on Linux or macOS but not on Windows
// to one Windows accepts; DecodeWindowsName reverses it exactly.
func EncodeWindowsName(name string) string {
	var b strings.Builder
	for i, r := range name {
		last := i+utf8.RuneLen(r) == len(name)
		switch {
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
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
