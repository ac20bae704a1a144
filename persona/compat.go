package persona

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Compatibility rules, named in refusals (PERSONA.md, "Compatibility rules").
const (
	RuleCrossFamily   = "cross-family"     // Windows, macOS and Linux personas stay in their family
	RuleOlderOS       = "later-to-earlier" // no later OS version onto an earlier one
	RuleBitness       = "64-to-32-bit"     // no 64-bit persona onto a 32-bit OS
	RuleUnsupported   = "unsupported-os"   // Windows Server and starter editions are not captured
	RuleOffice        = "office-bitness"   // Office/Outlook: same bitness
	RuleOfficeVersion = "office-version"   // Office/Outlook: same or later version
	RuleLanguage      = "ui-language"      // same UI language unless --force
)

// ErrIncompatible is wrapped by every refusal of Check.
var ErrIncompatible = errors.New("persona is not compatible with this system")

// Violation is one broken compatibility rule.
type Violation struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Entries lists the entry IDs the rule concerns; empty means the whole persona.
	Entries []string `json:"entries,omitempty"`
	// Forceable rules are applied anyway with --force (and reported as warnings).
	Forceable bool `json:"forceable,omitempty"`
}

// IncompatibleError is returned when a persona may not be applied.
type IncompatibleError struct {
	Violations []Violation
}

func (e *IncompatibleError) Error() string {
	msgs := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		msgs[i] = fmt.Sprintf("rule %s: %s", v.Rule, v.Message)
	}
	return ErrIncompatible.Error() + ": " + strings.Join(msgs, "; ")
}

func (e *IncompatibleError) Unwrap() error { return ErrIncompatible }

// Target describes the system a persona is applied to.
type Target struct {
	OS       OSInfo
	Language string
	Apps     map[string]AppInfo
}

// officeApps are the app names whose entries follow the Office rules.
var officeApps = map[string]bool{"office": true, "outlook": true}

// CheckCompatibility returns every rule a persona breaks on a target,
// for the selected entries (nil selects all). It is a pure function.
func CheckCompatibility(m *Manifest, t Target, sel Selector) []Violation {
	src, dst := m.OS, t.OS
	var out []Violation
	if src.Family != dst.Family {
		out = append(out, Violation{Rule: RuleCrossFamily,
			Message: fmt.Sprintf("a %s persona cannot be applied to %s", familyName(src.Family), familyName(dst.Family))})
		return out // nothing else is meaningful across families
	}
	if unsupportedEdition(src) {
		out = append(out, Violation{Rule: RuleUnsupported,
			Message: fmt.Sprintf("%s (%s) personas are not supported", src.Name, src.Edition)})
	}
	if comparableOS(src, dst) && compareOS(src, dst) > 0 {
		out = append(out, Violation{Rule: RuleOlderOS,
			Message: fmt.Sprintf("the persona is from %s, a later version than this %s", osLabel(src), osLabel(dst))})
	}
	if archBits(src.Arch) == 64 && archBits(dst.Arch) == 32 {
		out = append(out, Violation{Rule: RuleBitness,
			Message: fmt.Sprintf("the persona is from a 64-bit system (%s), this system is 32-bit (%s)", src.Arch, dst.Arch)})
	}
	// Office and Outlook: per entry, only when both sides have the app.
	for _, r := range m.Entries {
		e := r.Entry
		if e.App == nil || !officeApps[e.App.Name] || !sel.Selected(e.ID) || !recordHasData(&r) {
			continue
		}
		sa, sok := m.Apps[e.App.Name]
		da, dok := t.Apps[e.App.Name]
		if !sok || !dok {
			continue
		}
		if sa.Arch != "" && da.Arch != "" && !strings.EqualFold(sa.Arch, da.Arch) {
			out = append(out, Violation{Rule: RuleOffice, Entries: []string{e.ID},
				Message: fmt.Sprintf("%s: %s %s settings cannot go to %s %s (same bitness only; exclude %s to apply the rest)",
					e.ID, e.App.Name, sa.Arch, e.App.Name, da.Arch, e.ID)})
		}
		if compareVersions(sa.Version, da.Version) > 0 {
			out = append(out, Violation{Rule: RuleOfficeVersion, Entries: []string{e.ID},
				Message: fmt.Sprintf("%s: %s %s settings cannot go to the earlier %s (exclude %s to apply the rest)",
					e.ID, e.App.Name, sa.Version, da.Version, e.ID)})
		}
	}
	if m.Language != "" && t.Language != "" && !strings.EqualFold(normLanguage(m.Language), normLanguage(t.Language)) {
		out = append(out, Violation{Rule: RuleLanguage, Forceable: true,
			Message: fmt.Sprintf("the persona's UI language is %s, this system's is %s (use --force to apply anyway)", m.Language, t.Language)})
	}
	return out
}

func recordHasData(r *EntryRecord) bool {
	return len(r.Files) > 0 || len(r.Exports) > 0
}

// Check returns an *IncompatibleError when a rule refuses the persona;
// with force, forceable violations are returned as warnings instead.
func Check(m *Manifest, t Target, sel Selector, force bool) (warnings []Violation, err error) {
	var refuse []Violation
	for _, v := range CheckCompatibility(m, t, sel) {
		if v.Forceable && force {
			warnings = append(warnings, v)
			continue
		}
		refuse = append(refuse, v)
	}
	if len(refuse) > 0 {
		return warnings, &IncompatibleError{Violations: refuse}
	}
	return warnings, nil
}

func familyName(f string) string {
	switch f {
	case Windows:
		return "Windows"
	case MacOS:
		return "macOS"
	case Linux:
		return "Linux"
	}
	return f
}

func osLabel(o OSInfo) string {
	s := o.Name
	if s == "" {
		s = familyName(o.Family)
	}
	if o.Version != "" && !strings.Contains(s, o.Version) {
		s += " " + o.Version
	}
	if o.Build != "" {
		s += " (build " + o.Build + ")"
	}
	return s
}

// unsupportedEdition reports Windows Server and starter editions.
func unsupportedEdition(o OSInfo) bool {
	if o.Family != Windows {
		return false
	}
	s := strings.ToLower(o.Edition + " " + o.Name)
	return strings.Contains(s, "server") || strings.Contains(s, "starter")
}

// comparableOS: Windows and macOS versions always compare; Linux versions
// only within one distribution.
func comparableOS(a, b OSInfo) bool {
	if a.Family == Linux {
		return a.ID != "" && a.ID == b.ID
	}
	return true
}

// compareOS orders two OS versions of one family: version first, then
// (Windows) the build number.
func compareOS(a, b OSInfo) int {
	if c := compareVersions(a.Version, b.Version); c != 0 {
		return c
	}
	if a.Family == Windows {
		return compareVersions(a.Build, b.Build)
	}
	return 0
}

// compareVersions compares dotted numeric versions ("14.4.1" < "14.10");
// a non-numeric part compares as text; missing parts count as 0; an empty
// version compares equal to anything.
func compareVersions(a, b string) int {
	if a == "" || b == "" {
		return 0
	}
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		x, y := "0", "0"
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		nx, ex := strconv.Atoi(x)
		ny, ey := strconv.Atoi(y)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				if nx < ny {
					return -1
				}
				return 1
			}
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return 0
}

// archBits maps GOARCH-style and Windows-style names to 32 or 64 (0 if unknown).
func archBits(a string) int {
	switch strings.ToLower(a) {
	case "amd64", "arm64", "x64", "x86_64", "aarch64", "ppc64le", "s390x", "riscv64", "loong64":
		return 64
	case "386", "x86", "i386", "i686", "arm", "armv7l", "armhf":
		return 32
	}
	return 0
}

// normLanguage makes "en_US.UTF-8", "en-US" and "en_US" equal.
func normLanguage(l string) string {
	if i := strings.IndexAny(l, ".@"); i >= 0 {
		l = l[:i]
	}
	return strings.ReplaceAll(l, "_", "-")
}
