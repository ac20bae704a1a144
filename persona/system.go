package persona

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path"
	"regexp"
	"runtime"
	"strings"
)

// Command is one external tool invocation (reg, defaults, dconf, lpstat, ...).
type Command struct {
	Name  string
	Args  []string
	Env   []string // extra KEY=VALUE pairs on top of the process environment
	Stdin []byte
}

func (c Command) String() string { return strings.Join(append([]string{c.Name}, c.Args...), " ") }

// Runner runs external tools. ExecRunner is the real one; tests may wrap it.
type Runner interface {
	// Run returns the command's standard output; a failure's error names
	// the command and carries its standard error.
	Run(ctx context.Context, c Command) ([]byte, error)
}

// ErrToolMissing is wrapped when a tool is not installed.
var ErrToolMissing = errors.New("tool not installed")

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

var _ Runner = ExecRunner{}

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, c Command) ([]byte, error) {
	if _, err := exec.LookPath(c.Name); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, ErrToolMissing)
	}
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		if msg != "" {
			return out, fmt.Errorf("%s: %w: %s", c, err, msg)
		}
		return out, fmt.Errorf("%s: %w", c, err)
	}
	return out, nil
}

// System describes a device and user: what Capture records and what Apply
// checks a persona against.
type System struct {
	Device       string
	User         string
	Home         string
	OS           OSInfo
	Language     string
	HardwareUUID string
	// Apps holds versions found by platform probes (Office on Windows);
	// catalog entries add theirs during capture.
	Apps map[string]AppInfo
}

// Target returns the compatibility view of the system.
func (s System) Target() Target {
	return Target{OS: s.OS, Language: s.Language, Apps: s.Apps}
}

// DetectSystem probes the running system: host name, current user and
// home, OS version and build (per platform: /etc/os-release, sw_vers,
// the registry), UI language, macOS hardware UUID and Office.
func DetectSystem(ctx context.Context, run Runner) (System, error) {
	if run == nil {
		run = ExecRunner{}
	}
	var s System
	var err error
	if s.Device, err = os.Hostname(); err != nil {
		return s, fmt.Errorf("persona: host name: %w", err)
	}
	if s.Device = strings.TrimSpace(s.Device); s.Device == "" {
		s.Device = "unknown"
	}
	if u, err := user.Current(); err == nil {
		s.User = u.Username
		if i := strings.LastIndexAny(s.User, `\`); i >= 0 {
			s.User = s.User[i+1:] // DOMAIN\ann
		}
		s.Home = u.HomeDir
	}
	if h, err := os.UserHomeDir(); err == nil {
		s.Home = h
	}
	if s.OS, err = detectOS(ctx, run); err != nil {
		return s, fmt.Errorf("persona: detect OS: %w", err)
	}
	s.Language = detectLanguage(ctx, run)
	s.HardwareUUID = detectHardwareUUID(ctx, run)
	s.Apps = detectPlatformApps(ctx, run)
	return s, nil
}

// goArch returns runtime.GOARCH, the default architecture of a system.
func goArch() string { return runtime.GOARCH }

// languageFromEnv reads LC_ALL, LC_MESSAGES, LANG (POSIX order) and
// returns "en-US" style; "" for C/POSIX.
func languageFromEnv(getenv func(string) string) string {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(k); v != "" {
			v = normLanguage(v)
			if v == "C" || v == "POSIX" {
				return ""
			}
			return v
		}
	}
	return ""
}

// parseOSRelease reads /etc/os-release.
func parseOSRelease(data []byte) OSInfo {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		kv[k] = strings.Trim(v, `"'`)
	}
	o := OSInfo{Family: Linux, Name: kv["PRETTY_NAME"], ID: kv["ID"], Version: kv["VERSION_ID"], Build: kv["BUILD_ID"]}
	if o.Name == "" {
		o.Name = kv["NAME"]
	}
	if o.Name == "" {
		o.Name = "Linux"
	}
	return o
}

// parseSwVers reads `sw_vers` output.
func parseSwVers(out []byte) OSInfo {
	o := OSInfo{Family: MacOS, Name: "macOS", ID: "macos"}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "ProductName":
			o.Name = v
		case "ProductVersion":
			o.Version = v
		case "BuildVersion":
			o.Build = v
		}
	}
	return o
}

// parseRegQuery reads `reg query KEY` output into value name → data.
func parseRegQuery(out []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	re := regexp.MustCompile(`^\s{2,}(.+?)\s{2,}(REG_[A-Z_]+)(?:\s{2,}(.*))?$`)
	for sc.Scan() {
		if g := re.FindStringSubmatch(strings.TrimRight(sc.Text(), "\r")); g != nil {
			m[g[1]] = strings.TrimSpace(g[3])
		}
	}
	return m
}

// windowsOSInfo builds OSInfo from HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion.
// Windows 11 still calls itself "Windows 10" in ProductName: the build
// number (22000 and later) decides.
func windowsOSInfo(v map[string]string, arch string) OSInfo {
	o := OSInfo{Family: Windows, ID: "windows", Name: v["ProductName"], Build: v["CurrentBuildNumber"], Edition: v["EditionID"], Arch: arch}
	if o.Build == "" {
		o.Build = v["CurrentBuild"]
	}
	o.Version = "10"
	var build int
	fmt.Sscanf(o.Build, "%d", &build)
	switch {
	case build >= 22000:
		o.Version = "11"
		o.Name = strings.Replace(o.Name, "Windows 10", "Windows 11", 1)
	case build >= 10240:
		o.Version = "10"
	case build >= 9600:
		o.Version = "8.1"
	case build >= 9200:
		o.Version = "8"
	case build >= 7600:
		o.Version = "7"
	case build > 0:
		o.Version = "6"
	}
	if o.Name == "" {
		o.Name = "Windows " + o.Version
	}
	return o
}

// windowsArch maps PROCESSOR_ARCHITECTURE (and PROCESSOR_ARCHITEW6432 for
// a 32-bit process on 64-bit Windows) to GOARCH names.
func windowsArch(getenv func(string) string) string {
	a := getenv("PROCESSOR_ARCHITEW6432")
	if a == "" {
		a = getenv("PROCESSOR_ARCHITECTURE")
	}
	switch strings.ToUpper(a) {
	case "AMD64":
		return "amd64"
	case "ARM64":
		return "arm64"
	case "X86":
		return "386"
	}
	return goArch()
}

// officeInfo reads HKLM\SOFTWARE\Microsoft\Office\ClickToRun\Configuration:
// VersionToReport ("16.0.17328.20142") and Platform ("x64"/"x86").
func officeInfo(v map[string]string) (AppInfo, bool) {
	ver := v["VersionToReport"]
	if ver == "" {
		return AppInfo{}, false
	}
	return AppInfo{Version: ver, Arch: strings.ToLower(v["Platform"])}, true
}

// officeFromOutlookKey reads the Bitness value ("x64"/"x86") of an MSI
// install's HKLM\SOFTWARE\Microsoft\Office\<ver>\Outlook key.
func officeFromOutlookKey(ver string, v map[string]string) (AppInfo, bool) {
	b := strings.ToLower(v["Bitness"])
	if b != "x64" && b != "x86" {
		return AppInfo{}, false
	}
	return AppInfo{Version: ver, Arch: b}, true
}

// parseIoregUUID finds IOPlatformUUID in `ioreg -rd1 -c IOPlatformExpertDevice`.
func parseIoregUUID(out []byte) string {
	re := regexp.MustCompile(`"IOPlatformUUID"\s*=\s*"([0-9A-Fa-f-]+)"`)
	if g := re.FindSubmatch(out); g != nil {
		return string(g[1])
	}
	return ""
}

// parseTasklist reads `tasklist /fo csv /nh` into process names without ".exe".
func parseTasklist(out []byte) []string {
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = -1
	recs, _ := r.ReadAll()
	var names []string
	for _, rec := range recs {
		if len(rec) > 0 && rec[0] != "" {
			names = append(names, strings.TrimSuffix(strings.ToLower(rec[0]), ".exe"))
		}
	}
	return names
}

// parsePs reads `ps -axo comm=` (full paths on macOS) into base names.
func parsePs(out []byte) []string {
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, path.Base(l))
		}
	}
	return names
}

// HostFamily is the OS family this binary runs on: windows, macos or
// linux (other Unix systems count as linux).
func HostFamily() string {
	switch runtime.GOOS {
	case "windows":
		return Windows
	case "darwin", "ios":
		return MacOS
	}
	return Linux
}
