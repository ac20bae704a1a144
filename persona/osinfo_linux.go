package persona

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

func detectOS(ctx context.Context, run Runner) (OSInfo, error) {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		data, err = os.ReadFile("/usr/lib/os-release")
	}
	o := OSInfo{Family: Linux, Name: "Linux"}
	if err == nil {
		o = parseOSRelease(data)
	}
	o.Arch = goArch()
	return o, nil
}

func detectLanguage(ctx context.Context, run Runner) string { return languageFromEnv(os.Getenv) }

func detectHardwareUUID(ctx context.Context, run Runner) string { return "" }

func detectPlatformApps(ctx context.Context, run Runner) map[string]AppInfo {
	return map[string]AppInfo{}
}

// runningProcesses scans /proc/*/comm.
func runningProcesses(ctx context.Context, run Runner) ([]string, error) {
	m, err := filepath.Glob("/proc/[0-9]*/comm")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range m {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the process ended
		}
		names = append(names, strings.TrimSpace(string(b)))
	}
	return names, nil
}
