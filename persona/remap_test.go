package persona

import "testing"

func TestRemapString(t *testing.T) {
	linux := NewRemapper(Linux, "/home/ann", "/home/bob", "ann", "bob", "", "")
	spaced := NewRemapper(MacOS, "/Users/Ann Smith", "/Users/Bob Jones", "Ann Smith", "Bob Jones", "", "")
	windows := NewRemapper(Windows, `C:\Users\ann`, `D:\Users\bob`, "ann", "bob", "", "")
	same := NewRemapper(Linux, "/home/ann", "/home/ann", "ann", "ann", "", "")
	tests := []struct {
		name string
		r    *Remapper
		in   string
		want string
	}{
		{"home", linux, `user_pref("dir", "/home/ann/Downloads");`, `user_pref("dir", "/home/bob/Downloads");`},
		{"home alone", linux, "/home/ann", "/home/bob"},
		{"name boundary", linux, "/home/anna/x /home/ann.old", "/home/anna/x /home/ann.old"},
		{"file url", linux, "file:///home/ann/Documents", "file:///home/bob/Documents"},
		{"user component", linux, "/var/mail/ann and /srv/ann/x", "/var/mail/bob and /srv/bob/x"},
		{"user in prose", linux, "ann wrote to annabelle", "ann wrote to annabelle"},
		{"user in web url", linux, `"https://example.com/ann/start"`, `"https://example.com/ann/start"`},
		{"user in smb url", linux, "smb://fileserver/ann", "smb://fileserver/ann"},
		{"user in file url", linux, "file:///srv/ann/x", "file:///srv/bob/x"},
		{"relative path is not a path token", linux, "docs/ann/x", "docs/ann/x"},
		{"spaces", spaced, "/Users/Ann Smith/Music", "/Users/Bob Jones/Music"},
		{"spaces in file url", spaced, "file:///Users/Ann%20Smith/Music", "file:///Users/Bob%20Jones/Music"},
		{"plain path then url", spaced, "file:///Users/Ann Smith/x", "file:///Users/Bob%20Jones/x"},
		{"windows", windows, `C:\Users\ann\Documents`, `D:\Users\bob\Documents`},
		{"windows case", windows, `c:\users\ANN\Documents`, `D:\Users\bob\Documents`},
		{"windows escaped", windows, `"C:\\Users\\ann\\AppData"`, `"D:\\Users\\bob\\AppData"`},
		{"windows forward", windows, `C:/Users/ann/x`, `D:/Users/bob/x`},
		{"windows file url", windows, `file:///C:/Users/ann/x`, `file:///D:/Users/bob/x`},
		{"windows unc user", windows, `\\server\home$\ann\x`, `\\server\home$\bob\x`},
		{"windows boundary", windows, `C:\Users\annika`, `C:\Users\annika`},
		{"identity", same, "/home/ann/x", "/home/ann/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.String(tc.in); got != tc.want {
				t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRemapText(t *testing.T) {
	r := NewRemapper(Linux, "/home/ann", "/home/bob", "ann", "bob", "", "")
	if out, ok := r.Text([]byte("SQLite format 3\x00/home/ann")); ok || string(out) != "SQLite format 3\x00/home/ann" {
		t.Errorf("binary content changed: %q %v", out, ok)
	}
	utf16 := append([]byte{0xFF, 0xFE}, encodeUTF16LE("path=/home/ann/x\r\n")...)
	out, ok := r.Text(utf16)
	want := append([]byte{0xFF, 0xFE}, encodeUTF16LE("path=/home/bob/x\r\n")...)
	if !ok || string(out) != string(want) {
		t.Errorf("UTF-16 text: %q", out)
	}
	if out, _ := r.Text([]byte("[org/gnome]\nuri='file:///home/ann/w.jpg'\n")); string(out) != "[org/gnome]\nuri='file:///home/bob/w.jpg'\n" {
		t.Errorf("dconf dump: %q", out)
	}
}
