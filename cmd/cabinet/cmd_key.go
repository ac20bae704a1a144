package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/snapshot"
)

func newKeyCommand() *cli.Command {
	newPw := &cli.StringFlag{Name: "new-password-file", Usage: "read the new password from `FILE` (default: prompt)"}
	return &cli.Command{
		Name:  "key",
		Usage: "manage the passwords that open the repository",
		Description: `Several passwords can open one repository: each wraps the same master key.

Examples:
  cabinet key add --new-password-file ~/second-pw
  cabinet key list
  cabinet key remove 3f9a2c1b
  cabinet key passwd --new-password-file ~/new-pw

` + exitCodesHelp,
		Subcommands: []*cli.Command{
			{Name: "add", Usage: "add a password", Flags: []cli.Flag{newPw}, Action: runKeyAdd,
				Description: "Example:\n  cabinet key add --new-password-file ~/second-pw"},
			{Name: "list", Usage: "list the keys", Action: runKeyList,
				Description: "Example:\n  cabinet key list --json"},
			{Name: "remove", Usage: "remove a key by ID", ArgsUsage: "ID", Action: runKeyRemove,
				Description: "Example:\n  cabinet key remove 3f9a2c1b"},
			{Name: "passwd", Usage: "change the password in use", Flags: []cli.Flag{newPw}, Action: runKeyPasswd,
				Description: "Example:\n  cabinet key passwd --new-password-file ~/new-pw"},
		},
	}
}

func newPassword(c *cli.Context) ([]byte, error) {
	if f := c.String("new-password-file"); f != "" {
		return readPasswordFile(f, "new password file")
	}
	// The prompt reads standard input: asking when only standard error is
	// a terminal (the password piped in) failed with "inappropriate ioctl
	// for device".
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, usagef("give the new password with --new-password-file (standard input is not a terminal to ask on)")
	}
	// Its own label: the repository's password was asked for just before.
	return promptPassword(c.Context, "new password", true)
}

func keyOptions() repo.KeyOptions {
	host, _ := os.Hostname()
	return repo.KeyOptions{Hostname: host, Username: currentUserName(), Now: time.Now()}
}

func runKeyAdd(c *cli.Context) error {
	return withNewPassword(c, "added", "added key %s\n", func(r *repo.Repository, pw []byte) (string, error) {
		return r.AddKey(c.Context, pw, keyOptions())
	})
}

// withNewPassword opens the repository, reads the new password, runs
// change and reports the key it returns.
func withNewPassword(c *cli.Context, jsonField, message string, change func(*repo.Repository, []byte) (string, error)) error {
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	pw, err := newPassword(c)
	if err != nil {
		return err
	}
	id, err := change(r, pw)
	if err != nil {
		return err
	}
	if flagBool(c, "json") {
		return printJSON(map[string]string{jsonField: id})
	}
	fmt.Printf(message, id[:8])
	return nil
}

func runKeyList(c *cli.Context) error {
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	keys, err := r.Keys(c.Context)
	if err != nil {
		return err
	}
	if flagBool(c, "json") {
		return printJSON(keys)
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, " \tID\tUSER\tHOST\tCREATED")
	for _, k := range keys {
		cur := " "
		if k.Current {
			cur = "*"
		}
		id := k.ID[:min(8, len(k.ID))]
		if k.Damaged != "" {
			fmt.Fprintf(tw, "%s\t%s\tdamaged: %s; remove it with 'cabinet key remove %s'\n", cur, id, k.Damaged, id)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cur, id, k.Username, k.Hostname, k.Created.Local().Format(snapshot.TimeLayout))
	}
	return tw.Flush()
}

func runKeyRemove(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("key remove needs the key ID (see 'cabinet key list')")
	}
	r, err := openRepository(c)
	if err != nil {
		return err
	}
	defer r.Close()
	id, err := r.RemoveKey(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	if flagBool(c, "json") {
		return printJSON(map[string]string{"removed": id})
	}
	fmt.Printf("removed key %s\n", id[:min(8, len(id))])
	return nil
}

func runKeyPasswd(c *cli.Context) error {
	kept, err := keptPasswordFile(c)
	if err != nil {
		return err
	}
	err = withNewPassword(c, "key", "password changed; the repository now opens with key %s\n", func(r *repo.Repository, pw []byte) (string, error) {
		if kept == "" {
			return r.ChangePassword(c.Context, pw, keyOptions())
		}
		// The kept file gets the new password before the old key goes:
		// it kept the old one, whose key was removed, and every later
		// command failed with a wrong password.
		return r.ChangePasswordThen(c.Context, pw, keyOptions(), func(string) error {
			if err := replacePasswordFile(kept, pw); err != nil {
				return fmt.Errorf("keep the new password in %s: %w", kept, err)
			}
			return nil
		})
	})
	if err == nil && kept != "" && !flagBool(c, "json") {
		fmt.Printf("the new password is kept in %s\n", kept)
	}
	return err
}

// keptPasswordFile is the default repository's generated password file
// when the password in use comes from it (as password finds it), else "".
func keptPasswordFile(c *cli.Context) (string, error) {
	_, isDefault, err := repoLocation(c)
	if err != nil || !isDefault || flagString(c, "password-file") != "" || flagString(c, "password-command") != "" {
		return "", err
	}
	pf, err := defaultPasswordFile()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(pf); err != nil {
		return "", nil
	}
	// A link to where the user keeps it: the file linked to is updated,
	// not replaced by one of its own.
	if real, err := filepath.EvalSymlinks(pf); err == nil {
		pf = real
	}
	return pf, nil
}

// replacePasswordFile puts pw in pf (mode 0600) in one rename, so pf holds
// the old password or the new one, never a part.
func replacePasswordFile(pf string, pw []byte) error {
	dir := filepath.Dir(pf)
	f, err := os.CreateTemp(dir, filepath.Base(pf)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(append(slices.Clip(pw), '\n')); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, pf); err != nil {
		os.Remove(tmp)
		return err
	}
	// The rename lasts across a crash once the folder is synced (where a
	// folder can be opened for that).
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
