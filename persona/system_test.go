package persona

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

func TestParseOSRelease(t *testing.T) {
	got := parseOSRelease([]byte("PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\n# comment\n"))
	want := OSInfo{Family: Linux, Name: "Ubuntu 24.04.1 LTS", ID: "ubuntu", Version: "24.04"}
	if got != want {
		t.Errorf("got %+v", got)
	}
	if got := parseOSRelease(nil); got.Name != "Linux" || got.Family != Linux {
		t.Errorf("empty: %+v", got)
	}
}

func TestParseSwVers(t *testing.T) {
	got := parseSwVers([]byte("ProductName:\t\tmacOS\nProductVersion:\t\t14.4.1\nBuildVersion:\t\t23E224\n"))
	if got.Family != MacOS || got.Version != "14.4.1" || got.Build != "23E224" || got.Name != "macOS" {
		t.Errorf("got %+v", got)
	}
}

func TestWindowsOSInfo(t *testing.T) {
	out := []byte("\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\r\n" +
		"    ProductName    REG_SZ    Windows 10 Pro\r\n" +
		"    EditionID    REG_SZ    Professional\r\n" +
		"    CurrentBuildNumber    REG_SZ    22631\r\n" +
		"    DisplayVersion    REG_SZ    23H2\r\n" +
		"    InstallDate    REG_DWORD    0x6500a1b2\r\n")
	v := parseRegQuery(out)
	if v["ProductName"] != "Windows 10 Pro" || v["InstallDate"] != "0x6500a1b2" {
		t.Fatalf("parseRegQuery: %v", v)
	}
	tests := []struct {
		build, version, name string
	}{
		{"22631", "11", "Windows 11 Pro"}, {"19045", "10", "Windows 10 Pro"}, {"7601", "7", "Windows 10 Pro"},
	}
	for _, tc := range tests {
		v["CurrentBuildNumber"] = tc.build
		o := windowsOSInfo(v, "amd64")
		if o.Version != tc.version || o.Name != tc.name || o.Build != tc.build || o.Edition != "Professional" {
			t.Errorf("build %s: %+v", tc.build, o)
		}
	}
	env := map[string]string{"PROCESSOR_ARCHITECTURE": "x86", "PROCESSOR_ARCHITEW6432": "AMD64"}
	if a := windowsArch(func(k string) string { return env[k] }); a != "amd64" {
		t.Errorf("WOW64 arch = %s", a)
	}
	delete(env, "PROCESSOR_ARCHITEW6432")
	if a := windowsArch(func(k string) string { return env[k] }); a != "386" {
		t.Errorf("x86 arch = %s", a)
	}
	msi, ok := officeFromOutlookKey("16.0", parseRegQuery([]byte("\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Office\\16.0\\Outlook\r\n    Bitness    REG_SZ    x86\r\n")))
	if !ok || msi != (AppInfo{Version: "16.0", Arch: "x86"}) {
		t.Errorf("MSI office: %+v %v", msi, ok)
	}
	o, ok := officeInfo(map[string]string{"VersionToReport": "16.0.17328.20142", "Platform": "x64"})
	if !ok || o.Arch != "x64" || o.Version != "16.0.17328.20142" {
		t.Errorf("office: %+v", o)
	}
}

func TestProcessListParsers(t *testing.T) {
	tl := parseTasklist([]byte("\"OUTLOOK.EXE\",\"1234\",\"Console\",\"1\",\"120,000 K\"\r\n\"explorer.exe\",\"99\",\"Console\",\"1\",\"50,000 K\"\r\n"))
	if !reflect.DeepEqual(tl, []string{"outlook", "explorer"}) {
		t.Errorf("tasklist: %v", tl)
	}
	ps := parsePs([]byte("/Applications/Safari.app/Contents/MacOS/Safari\n/usr/sbin/cfprefsd\n  \n"))
	if !reflect.DeepEqual(ps, []string{"Safari", "cfprefsd"}) {
		t.Errorf("ps: %v", ps)
	}
	if u := parseIoregUUID([]byte(`    "IOPlatformUUID" = "564D7F2A-1B2C-4D5E-8F90-ABCDEF012345"`)); u != "564D7F2A-1B2C-4D5E-8F90-ABCDEF012345" {
		t.Errorf("ioreg: %q", u)
	}
}

func TestLanguageFromEnv(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LANG": "de_DE.UTF-8"}, "de-DE"},
		{map[string]string{"LANG": "de_DE.UTF-8", "LC_ALL": "fr_FR@euro"}, "fr-FR"},
		{map[string]string{"LANG": "C.UTF-8"}, ""},
		{map[string]string{}, ""},
	}
	for _, tc := range tests {
		if got := languageFromEnv(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestPrinters(t *testing.T) {
	ps := parseLpstatV([]byte("device for HP_4th: ipp://printserver/printers/hp4\ndevice for PDF: cups-pdf:/\ndevice for Lab: socket://10.0.0.9:9100\n"))
	if len(ps) != 3 {
		t.Fatalf("lpstat -v: %v", ps)
	}
	if net := networkPrinters(ps); !reflect.DeepEqual(net, []Printer{{"HP_4th", "ipp://printserver/printers/hp4"}, {"Lab", "socket://10.0.0.9:9100"}}) {
		t.Errorf("network printers: %v", net)
	}
	if d := parseLpstatD([]byte("system default destination: HP_4th\n")); d != "HP_4th" {
		t.Errorf("lpstat -d: %q", d)
	}
	if d := parseLpstatD([]byte("no system default destination\n")); d != "" {
		t.Errorf("no default: %q", d)
	}
	fstab := "UUID=abc / ext4 defaults 0 1\n//nas/ann /mnt/ann cifs credentials=/home/ann/.smb,uid=1000 0 0\n# nas:/x /y nfs\nnas:/export /mnt/x nfs4 defaults 0 0\n"
	if got := networkMounts([]byte(fstab)); len(got) != 2 {
		t.Errorf("network mounts: %q", got)
	}
}

func TestRunningProcesses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	names, err := runningProcesses(context.Background(), ExecRunner{})
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.ReadFile("/proc/self/comm")
	me := string(self[:len(self)-1])
	for _, n := range names {
		if n == me {
			return
		}
	}
	t.Errorf("%q not among %d running processes", me, len(names))
}

func TestDetectSystem(t *testing.T) {
	s, err := DetectSystem(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Device == "" || s.OS.Family != HostFamily() || s.OS.Arch == "" || s.Home == "" {
		t.Errorf("system: %+v", s)
	}
	if !filepath.IsAbs(s.Home) {
		t.Errorf("home %q", s.Home)
	}
}
