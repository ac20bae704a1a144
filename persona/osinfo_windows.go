package persona

import (
	"context"
	"os"
	"strings"
)

const currentVersionKey = `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`

func detectOS(ctx context.Context, run Runner) (OSInfo, error) {
	out, err := run.Run(ctx, Command{Name: "reg", Args: []string{"query", currentVersionKey}})
	if err != nil {
		return OSInfo{}, err
	}
	return windowsOSInfo(parseRegQuery(out), windowsArch(os.Getenv)), nil
}

func detectLanguage(ctx context.Context, run Runner) string {
	out, err := run.Run(ctx, Command{Name: "reg", Args: []string{"query", `HKCU\Control Panel\International`, "/v", "LocaleName"}})
	if err != nil {
		return ""
	}
	return normLanguage(parseRegQuery(out)["LocaleName"])
}

func detectHardwareUUID(ctx context.Context, run Runner) string { return "" }

func detectPlatformApps(ctx context.Context, run Runner) map[string]AppInfo {
	apps := map[string]AppInfo{}
	out, err := run.Run(ctx, Command{Name: "reg", Args: []string{"query", `HKLM\SOFTWARE\Microsoft\Office\ClickToRun\Configuration`}})
	if err != nil {
		return apps
	}
	if a, ok := officeInfo(parseRegQuery(out)); ok {
		apps["office"] = a
		apps["outlook"] = a
	}
	return apps
}

func runningProcesses(ctx context.Context, run Runner) ([]string, error) {
	out, err := run.Run(ctx, Command{Name: "tasklist", Args: []string{"/fo", "csv", "/nh"}})
	if err != nil {
		return nil, err
	}
	names := parseTasklist(out)
	for i := range names {
		names[i] = strings.ToLower(names[i])
	}
	return names, nil
}
