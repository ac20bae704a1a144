package persona

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// runDconf runs dconf for the user database of home.
//
// For the caller's own home with a session bus, dconf runs as is: writes
// go through the running dconf-service. For another home (or without a
// session bus) dconf is pointed at that home (HOME, XDG_CONFIG_HOME) and
// given a private runtime folder, so neither a dump nor a write leaves
// files such as ~/.cache/dconf behind; writes start a private bus with
// dbus-run-session so the dconf-service it activates writes that home's
// database.
func runDconf(ctx context.Context, run Runner, home string, stdin []byte, args ...string) ([]byte, error) {
	c := Command{Name: "dconf", Args: args, Stdin: stdin}
	if !privateBus(home) {
		return run.Run(ctx, c)
	}
	rt, err := os.MkdirTemp("", "cabinet-dconf-")
	if err != nil {
		return nil, fmt.Errorf("dconf runtime folder: %w", err)
	}
	defer os.RemoveAll(rt)
	c.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(rt, "cache"), "XDG_RUNTIME_DIR=" + rt}
	if len(args) > 0 && args[0] != "dump" && args[0] != "read" && args[0] != "list" {
		c.Name, c.Args = "dbus-run-session", append([]string{"--", "dconf"}, args...)
		c.Env = append(c.Env, "DBUS_SESSION_BUS_ADDRESS=")
	}
	return run.Run(ctx, c)
}

// privateBus reports whether dconf for home needs its own environment and bus.
func privateBus(home string) bool {
	cur, _ := os.UserHomeDir()
	return os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" || filepath.Clean(cur) != filepath.Clean(home)
}
