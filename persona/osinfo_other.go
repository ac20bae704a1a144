//go:build !linux && !darwin && !windows

package persona

import (
	"context"
	"os"
)

func detectOS(ctx context.Context, run Runner) (OSInfo, error) {
	return OSInfo{Family: Linux, Name: "Unix", Arch: goArch()}, nil
}

func detectLanguage(ctx context.Context, run Runner) string { return languageFromEnv(os.Getenv) }

func detectHardwareUUID(ctx context.Context, run Runner) string { return "" }

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
