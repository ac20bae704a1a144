package persona

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sampleReg = "testdata/windows/hkcu-office-outlook-network-printers.reg"

func loadSampleReg(t *testing.T) ([]byte, *RegFile) {
	t.Helper()
	data, err := os.ReadFile(sampleReg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		t.Fatal("sample is not UTF-16LE with a byte order mark")
	}
	f, err := DecodeReg(data)
	if err != nil {
		t.Fatal(err)
	}
	return data, f
}

func regText(t *testing.T, f *RegFile, key, value string) []string {
	t.Helper()
	k, ok := f.Key(key)
	if !ok {
		t.Fatalf("key %s missing", key)
	}
	v, ok := k.Value(value)
	if !ok {
		t.Fatalf("value %s\\%s missing", key, value)
	}
	return v.Text()
}

const (
	wordKey    = `HKEY_CURRENT_USER\Software\Microsoft\Office\16.0\Word\Options`
	commonKey  = `HKEY_CURRENT_USER\Software\Microsoft\Office\16.0\Common\General`
	accountKey = `HKEY_CURRENT_USER\Software\Microsoft\Office\16.0\Outlook\Profiles\Outlook\9375CFF0413111d3B88A00104B2A6676\00000002`
	driveKey   = `HKEY_CURRENT_USER\Network\Z`
	printerKey = `HKEY_CURRENT_USER\Printers\Connections\,,printserver,HP-LaserJet-4th-Floor`
)

func TestRegParse(t *testing.T) {
	data, f := loadSampleReg(t)
	if f.Header != "Windows Registry Editor Version 5.00" || len(f.Keys) != 9 {
		t.Fatalf("header %q, %d keys", f.Header, len(f.Keys))
	}
	tests := []struct {
		key, value string
		want       []string
	}{
		{wordKey, "DOC-PATH", []string{`C:\Users\ann\Documents\Word`}},
		{wordKey, "PersonalTemplates", []string{`C:\Users\ann\Documents\Custom Office Templates`}},
		{commonKey, "RecentFolders", []string{`C:\Users\ann\Documents`, `\\fileserver\users\ann\reports`, `D:\Archive`}},
		{driveKey, "RemotePath", []string{`\\fileserver\users\ann`}},
		{driveKey, "UserName", []string{""}},
		{printerKey, "Server", []string{`\\printserver`}},
		{`HKEY_CURRENT_USER\Software\Microsoft\Office\16.0\Outlook\Setup`, "", []string{`default value with "quotes"`}},
	}
	for _, tc := range tests {
		if got := regText(t, f, tc.key, tc.value); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s\\%s = %q, want %q", tc.key, tc.value, got, tc.want)
		}
	}
	k, _ := f.Key(driveKey)
	if v, _ := k.Value("ProviderType"); v.Type != "dword" || v.DWord != 0x20000 {
		t.Errorf("ProviderType = %+v", v)
	}
	k, _ = f.Key(accountKey)
	if v, _ := k.Value("001f6700"); v.Type != "hex" || !bytes.Contains(v.Data, encodeUTF16LE("archive.pst")) {
		t.Errorf("PST path value = %+v", v)
	}
	// Unchanged, the export encodes to the same bytes.
	if got := f.Encode(); !bytes.Equal(got, data) {
		t.Errorf("round trip differs:\n%q\n%q", got[:200], data[:200])
	}
}

func TestRegRemap(t *testing.T) {
	data, f := loadSampleReg(t)
	r := NewRemapper(Windows, `C:\Users\ann`, `C:\Users\bob`, "ann", "bob", "", "")
	f.Remap(r)
	out := f.Encode()
	g, err := DecodeReg(out)
	if err != nil {
		t.Fatalf("remapped export does not parse: %v", err)
	}
	tests := []struct {
		key, value string
		want       []string
	}{
		{wordKey, "DOC-PATH", []string{`C:\Users\bob\Documents\Word`}},
		{wordKey, "STARTUP-PATH", []string{`C:\Users\bob\AppData\Roaming\Microsoft\Word\STARTUP`}}, // case-insensitive
		{wordKey, "PersonalTemplates", []string{`C:\Users\bob\Documents\Custom Office Templates`}},
		{wordKey, "Customer", []string{"Annual report for annabelle"}},
		{commonKey, "UserTemplates", []string{`%USERPROFILE%\AppData\Roaming\Microsoft\Templates`}},
		{commonKey, "RecentFolders", []string{`C:\Users\bob\Documents`, `\\fileserver\users\bob\reports`, `D:\Archive`}},
		{driveKey, "RemotePath", []string{`\\fileserver\users\bob`}},
		{printerKey, "Server", []string{`\\printserver`}},
	}
	for _, tc := range tests {
		if got := regText(t, g, tc.key, tc.value); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s\\%s = %q, want %q", tc.key, tc.value, got, tc.want)
		}
	}
	// Binary values are left alone (an Outlook PST path inside a MAPI blob).
	k, _ := g.Key(accountKey)
	if v, _ := k.Value("001f6700"); !bytes.Contains(v.Data, encodeUTF16LE(`C:\Users\ann\Documents`)) {
		t.Errorf("binary value was changed")
	}
	// Remapping the raw file does the same, keeping UTF-16LE with BOM.
	raw, ok := r.Text(data)
	if !ok || !bytes.Equal(raw, out) {
		t.Errorf("Remapper.Text on the .reg file differs from RegFile.Remap")
	}
	if strings.Contains(g.String(), `Users\ann`) || strings.Contains(g.String(), `Users\\ann`) {
		t.Errorf("old home left in a string value:\n%s", g.String())
	}
}

func TestRegBadInput(t *testing.T) {
	for _, in := range []string{
		"", "not a reg file", "Windows Registry Editor Version 5.00\r\n\"v\"=\"outside a key\"\r\n",
		"Windows Registry Editor Version 5.00\r\n[HKEY_CURRENT_USER\\X\r\n",
		"Windows Registry Editor Version 5.00\r\n[HKEY_CURRENT_USER\\X]\r\n\"v\"=hex:zz\r\n",
		"Windows Registry Editor Version 5.00\r\n[HKEY_CURRENT_USER\\X]\r\n\"v\"=dword:12\r\n",
		"Windows Registry Editor Version 5.00\r\n[HKEY_CURRENT_USER\\X]\r\n\"v=\"unterminated\r\n",
	} {
		if _, err := ParseReg(in); !errors.Is(err, ErrRegFormat) {
			t.Errorf("ParseReg(%q) = %v, want ErrRegFormat", in, err)
		}
	}
	if _, err := DecodeReg([]byte{0xFF, 0xFE, 'W'}); !errors.Is(err, ErrRegFormat) {
		t.Errorf("odd UTF-16: %v", err)
	}
}

func TestPlistRemap(t *testing.T) {
	data, err := os.ReadFile("testdata/macos/com.apple.finder.plist")
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodePlist(data)
	if err != nil {
		t.Fatal(err)
	}
	d := v.(map[string]any)
	if d["ShowPathbar"] != true || d["ShowStatusBar"] != false || d["SidebarWidth"] != int64(176) || d["FK_SidebarWidth"] != 176.5 {
		t.Errorf("scalars: %v", d)
	}
	if !d["LastUpdate"].(time.Time).Equal(time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC)) {
		t.Errorf("date: %v", d["LastUpdate"])
	}
	tests := []struct {
		dstHome, dstUser string
	}{
		{"/Users/bob", "bob"},
		{"/Users/b&b <x>", "b&b <x>"}, // XML-escaped in the file, plain when read
	}
	for _, tc := range tests {
		r := NewRemapper(MacOS, "/Users/ann", tc.dstHome, "ann", tc.dstUser, "", "")
		out, ok := r.Text(data)
		if !ok {
			t.Fatal("plist not treated as text")
		}
		v, err := DecodePlist(out)
		if err != nil {
			t.Fatalf("remapped plist for %q does not parse: %v", tc.dstHome, err)
		}
		d := v.(map[string]any)
		folder := d["FXRecentFolders"].([]any)[0].(map[string]any)
		if got := folder["path"]; got != tc.dstHome+"/Projects" {
			t.Errorf("path = %q", got)
		}
		if _, ok := folder["file-bookmark"].([]byte); !ok {
			t.Errorf("data element lost")
		}
		if got, want := d["NewWindowTargetPath"], "file://"+escapePath(tc.dstHome)+"/Documents/"; got != want {
			t.Errorf("NewWindowTargetPath = %q, want %q", got, want)
		}
		if got := d["Owner"]; got != "ann & family, see /Users/annabelle too" {
			t.Errorf("Owner = %q", got)
		}
	}
}

func TestPlistBadInput(t *testing.T) {
	for _, in := range []string{"", "bplist00\x00", "<plist><dict><key>a</key></dict></plist>", "<plist><array><key>k</key></array></plist>",
		"<plist><integer>x</integer></plist>", "<plist><dict><string>no key</string></dict></plist>", "<notplist/>", "<plist><foo/></plist>",
		"<plist>" + strings.Repeat("<array>", 200) + strings.Repeat("</array>", 200) + "</plist>"} {
		if _, err := DecodePlist([]byte(in)); !errors.Is(err, ErrPlistFormat) {
			t.Errorf("DecodePlist(%.40q) = %v, want ErrPlistFormat", in, err)
		}
	}
}

func TestByHostRename(t *testing.T) {
	r := NewRemapper(MacOS, "/Users/ann", "/Users/ann", "ann", "ann", "11111111-2222-3333-4444-555555555555", "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE")
	tests := map[string]string{
		"Library/Preferences/ByHost/com.apple.screensaver.11111111-2222-3333-4444-555555555555.plist": "Library/Preferences/ByHost/com.apple.screensaver.AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE.plist",
		"Library/Preferences/com.apple.dock.plist":                                                    "Library/Preferences/com.apple.dock.plist",
		"Documents/11111111-2222-3333-4444-555555555555.txt":                                          "Documents/11111111-2222-3333-4444-555555555555.txt",
	}
	for in, want := range tests {
		if got := r.Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
}
