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
	// Click-to-Run (Microsoft 365, 2019 and later) first, then MSI installs
	// from 2016 back to 2007, 64-bit and 32-bit (WOW6432Node) registry views.
	if out, err := run.Run(ctx, Command{Name: "reg", Args: []string{"query", `HKLM\SOFTWARE\Microsoft\Office\ClickToRun\Configuration`}}); err == nil {
		if a, ok := officeInfo(parseRegQuery(out)); ok {
			apps["office"], apps["outlook"] = a, a
			return apps
		}
	}
	for _, ver := range []string{"16.0", "15.0", "14.0", "12.0"} {
		for _, root := range []string{`HKLM\SOFTWARE\Microsoft\Office\`, `HKLM\SOFTWARE\WOW6432Node\Microsoft\Office\`} {
			out, err := run.Run(ctx, Command{Name: "reg", Args: []string{"query", root + ver + `\Outlook`, "/v", "Bitness"}})
			if err != nil {
				continue
			}
			if a, ok := officeFromOutlookKey(ver, parseRegQuery(out)); ok {
				apps["office"], apps["outlook"] = a, a
				return apps
			}
		}
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
