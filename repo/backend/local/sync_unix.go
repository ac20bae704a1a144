//go:build !windows

package local

import "os"

// syncDir makes a rename durable on file systems that need the folder synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync() // some file systems refuse fsync on folders; the rename is still atomic
	return nil
}
