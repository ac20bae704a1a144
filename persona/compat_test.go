package persona

import (
	"errors"
	"strings"
	"testing"
)

func win(version, build, arch string) OSInfo {
	return OSInfo{Family: Windows, ID: "windows", Name: "Windows " + version + " Pro", Version: version, Build: build, Edition: "Professional", Arch: arch}
}

func mac(version, arch string) OSInfo {
	return OSInfo{Family: MacOS, ID: "macos", Name: "macOS", Version: version, Arch: arch}
}

func lin(id, version, arch string) OSInfo {
	return OSInfo{Family: Linux, ID: id, Name: id, Version: version, Arch: arch}
}

// officeManifest is a Windows persona with Outlook and Office entries captured.
func officeManifest(os OSInfo, office AppInfo) *Manifest {
	m := &Manifest{Format: FormatVersion, OS: os, Home: `C:\Users\ann`, User: "ann", Language: "en-US",
		Apps: map[string]AppInfo{"office": office, "outlook": office}}
	for _, id := range []string{"outlook", "office"} {
		m.Entries = append(m.Entries, EntryRecord{
			Entry:   Entry{ID: "windows/" + id, OS: Windows, App: &App{Name: id}, Exports: []Export{{Kind: ExportReg, Key: `HKCU\Software\Microsoft\Office\16.0\` + id}}},
			Status:  StatusCaptured,
			Exports: []ExportRecord{{Kind: ExportReg, Key: `HKCU\Software\Microsoft\Office\16.0\` + id, Stored: "exports/windows/" + id + "/0-reg.reg"}},
		})
	}
	return m
}

func TestCompatibility(t *testing.T) {
	o64 := AppInfo{Version: "16.0.17328.20142", Arch: "x64"}
	o32 := AppInfo{Version: "16.0.17328.20142", Arch: "x86"}
	o2013 := AppInfo{Version: "15.0.5603.1000", Arch: "x64"}
	tests := []struct {
		name     string
		src      OSInfo
		srcLang  string
		srcApps  AppInfo
		dst      Target
		sel      Selector
		force    bool
		wantRule []string // empty: allowed
		warn     bool
	}{
		{name: "windows 10 x64 onto windows 11 x64", src: win("10", "19045", "amd64"), dst: Target{OS: win("11", "22631", "amd64")}},
		{name: "same windows build", src: win("11", "22631", "amd64"), dst: Target{OS: win("11", "22631", "amd64")}},
		{name: "windows 10 x64 onto windows 10 x86", src: win("10", "19045", "amd64"), dst: Target{OS: win("10", "19045", "386")}, wantRule: []string{RuleBitness}},
		{name: "windows 32 onto 64 bit", src: win("10", "19045", "386"), dst: Target{OS: win("10", "19045", "amd64")}},
		{name: "windows 11 onto windows 10", src: win("11", "22631", "amd64"), dst: Target{OS: win("10", "19045", "amd64")}, wantRule: []string{RuleOlderOS}},
		{name: "windows later build onto earlier", src: win("11", "26100", "amd64"), dst: Target{OS: win("11", "22631", "amd64")}, wantRule: []string{RuleOlderOS}},
		{name: "windows 11 x64 onto windows 10 x86", src: win("11", "22631", "amd64"), dst: Target{OS: win("10", "19045", "386")}, wantRule: []string{RuleOlderOS, RuleBitness}},
		{name: "windows onto macos", src: win("10", "19045", "amd64"), dst: Target{OS: mac("14.4", "arm64")}, wantRule: []string{RuleCrossFamily}},
		{name: "macos onto windows", src: mac("13.6", "amd64"), dst: Target{OS: win("11", "22631", "amd64")}, wantRule: []string{RuleCrossFamily}},
		{name: "linux onto windows", src: lin("debian", "12", "amd64"), dst: Target{OS: win("11", "22631", "amd64")}, wantRule: []string{RuleCrossFamily}},
		{name: "macos onto linux", src: mac("14.4", "arm64"), dst: Target{OS: lin("ubuntu", "24.04", "amd64")}, wantRule: []string{RuleCrossFamily}},
		{name: "macos 14 onto macos 13", src: mac("14.4.1", "arm64"), dst: Target{OS: mac("13.6", "arm64")}, wantRule: []string{RuleOlderOS}},
		{name: "macos 13 onto macos 14", src: mac("13.6", "amd64"), dst: Target{OS: mac("14.4.1", "arm64")}},
		{name: "macos 14.10 is later than 14.9", src: mac("14.9", "arm64"), dst: Target{OS: mac("14.10", "arm64")}},
		{name: "ubuntu 24.04 onto 22.04", src: lin("ubuntu", "24.04", "amd64"), dst: Target{OS: lin("ubuntu", "22.04", "amd64")}, wantRule: []string{RuleOlderOS}},
		{name: "debian onto ubuntu", src: lin("debian", "13", "amd64"), dst: Target{OS: lin("ubuntu", "22.04", "amd64")}},
		{name: "linux 64 onto 32 bit", src: lin("debian", "12", "arm64"), dst: Target{OS: lin("debian", "12", "arm")}, wantRule: []string{RuleBitness}},
		{name: "windows server source", src: OSInfo{Family: Windows, Name: "Windows Server 2022 Standard", Version: "10", Build: "20348", Edition: "ServerStandard", Arch: "amd64"},
			dst: Target{OS: win("11", "22631", "amd64")}, wantRule: []string{RuleUnsupported}},
		{name: "windows 7 starter source", src: OSInfo{Family: Windows, Name: "Windows 7 Starter", Version: "7", Build: "7601", Edition: "Starter", Arch: "386"},
			dst: Target{OS: win("10", "19045", "386")}, wantRule: []string{RuleUnsupported}},
		{name: "office same bitness and version", src: win("10", "19045", "amd64"), srcApps: o64,
			dst: Target{OS: win("11", "22631", "amd64"), Apps: map[string]AppInfo{"office": o64, "outlook": o64}}},
		{name: "office 2013 onto 365", src: win("10", "19045", "amd64"), srcApps: o2013,
			dst: Target{OS: win("11", "22631", "amd64"), Apps: map[string]AppInfo{"office": o64, "outlook": o64}}},
		{name: "office 64 onto 32 bit", src: win("10", "19045", "amd64"), srcApps: o64,
			dst: Target{OS: win("11", "22631", "amd64"), Apps: map[string]AppInfo{"office": o32, "outlook": o32}}, wantRule: []string{RuleOffice, RuleOffice}},
		{name: "office 64 onto 32 bit, office excluded", src: win("10", "19045", "amd64"), srcApps: o64, sel: Selector{Exclude: []string{"office", "outlook"}},
			dst: Target{OS: win("11", "22631", "amd64"), Apps: map[string]AppInfo{"office": o32, "outlook": o32}}},
		{name: "office 365 onto 2013", src: win("10", "19045", "amd64"), srcApps: o64,
			dst: Target{OS: win("11", "22631", "amd64"), Apps: map[string]AppInfo{"office": o2013, "outlook": o2013}}, wantRule: []string{RuleOfficeVersion, RuleOfficeVersion}},
		{name: "office not installed on target", src: win("10", "19045", "amd64"), srcApps: o64, dst: Target{OS: win("11", "22631", "amd64")}},
		{name: "different language", src: win("10", "19045", "amd64"), srcLang: "de-DE", dst: Target{OS: win("11", "22631", "amd64"), Language: "en-US"}, wantRule: []string{RuleLanguage}},
		{name: "different language, forced", src: win("10", "19045", "amd64"), srcLang: "de-DE", force: true, warn: true, dst: Target{OS: win("11", "22631", "amd64"), Language: "en-US"}},
		{name: "same language, other spelling", src: lin("debian", "12", "amd64"), srcLang: "en_US.UTF-8", dst: Target{OS: lin("debian", "12", "amd64"), Language: "en-US"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := officeManifest(tc.src, tc.srcApps)
			if tc.srcApps == (AppInfo{}) {
				m.Apps = nil
			}
			m.Language = tc.srcLang
			warnings, err := Check(m, tc.dst, tc.sel, tc.force)
			if tc.warn != (len(warnings) > 0) {
				t.Errorf("warnings = %v", warnings)
			}
			if len(tc.wantRule) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ie *IncompatibleError
			if !errors.As(err, &ie) || !errors.Is(err, ErrIncompatible) {
				t.Fatalf("err = %v, want an IncompatibleError", err)
			}
			var got []string
			for _, v := range ie.Violations {
				got = append(got, v.Rule)
				if !strings.Contains(err.Error(), "rule "+v.Rule) {
					t.Errorf("message does not name the rule %s: %v", v.Rule, err)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.wantRule, ",") {
				t.Errorf("rules = %v, want %v (%v)", got, tc.wantRule, err)
			}
		})
	}
}

func TestCompatibilityMessages(t *testing.T) {
	m := officeManifest(mac("14.4.1", "arm64"), AppInfo{})
	_, err := Check(m, Target{OS: mac("13.6", "arm64")}, Selector{}, false)
	containsAll(t, "older OS", err.Error(), "14.4.1", "13.6", RuleOlderOS)
	m = officeManifest(win("10", "19045", "amd64"), AppInfo{})
	m.Language = "de-DE"
	_, err = Check(m, Target{OS: win("10", "19045", "amd64"), Language: "fr-FR"}, Selector{}, false)
	containsAll(t, "language", err.Error(), "de-DE", "fr-FR", "--force")
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"10", "11", -1}, {"14.4.1", "14.4", 1}, {"14.10", "14.9", 1}, {"16.0", "16.0.0", 0}, {"", "5", 0}, {"22.04", "24.04", -1},
	}
	for _, tc := range tests {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
