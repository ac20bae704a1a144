package persona

import (
	"context"
	"strings"
)

func detectOS(ctx context.Context, run Runner) (OSInfo, error) {
	out, err := run.Run(ctx, Command{Name: "sw_vers"})
	if err != nil {
		return OSInfo{}, err
	}
	o := parseSwVers(out)
	o.Arch = goArch()
	if o.Arch == "amd64" {
		// A Rosetta-translated binary still runs on arm64 hardware.
		if b, err := run.Run(ctx, Command{Name: "sysctl", Args: []string{"-in", "sysctl.proc_translated"}}); err == nil && strings.TrimSpace(string(b)) == "1" {
			o.Arch = "arm64"
		}
	}
	return o, nil
}

func detectLanguage(ctx context.Context, run Runner) string {
	out, err := run.Run(ctx, Command{Name: "defaults", Args: []string{"read", "-g", "AppleLocale"}})
	if err != nil {
		return ""
	}
	return normLanguage(strings.TrimSpace(string(out)))
}

func detectHardwareUUID(ctx context.Context, run Runner) string {
	out, err := run.Run(ctx, Command{Name: "ioreg", Args: []string{"-rd1", "-c", "IOPlatformExpertDevice"}})
	if err != nil {
		return ""
	}
	return parseIoregUUID(out)
}

func detectPlatformApps(ctx context.Context, run Runner) map[string]AppInfo {
	return map[string]AppInfo{}
}

func runningProcesses(ctx context.Context, run Runner) ([]string, error) {
	out, err := run.Run(ctx, Command{Name: "ps", Args: []string{"-axo", "comm="}})
	if err != nil {
		return nil, err
	}
	return parsePs(out), nil
}
