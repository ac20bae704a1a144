package cgofuse

import (
	"context"
	"strings"
	"time"

	"github.com/winfsp/cgofuse/fuse"

	"github.com/cabinetbackup/cabinet/fs"
)

// installHint says how to get WinFsp when cgofuse cannot load it.
const installHint = "install WinFsp from https://winfsp.dev/rel/ (winget install WinFsp.WinFsp) and run the command again"

// mountOptions for WinFsp (MOUNT.md §2, rclone cmd/cmount): the owner is the
// user who mounts; the cache manager is on for files (FileInfoTimeout=-1),
// folder listings and volume info are re-read after a second so new
// sessions appear.
func mountOptions(o Options) []string {
	opts := []string{
		"-o", "uid=-1", "-o", "gid=-1",
		"-o", "volname=" + o.VolumeName,
		"-o", "FileInfoTimeout=-1", "-o", "DirInfoTimeout=1000", "-o", "VolumeInfoTimeout=1000",
		"-o", "KeepFileCache", "-o", "ThreadCount=16",
		"--FileSystemName=cabinet",
	}
	if o.Debug {
		opts = append(opts, "-o", "debug")
	}
	return opts
}

// notifyChanges tells Explorer about sessions added or forgotten while
// mounted (host.Notify; MOUNT.md §2), checking every couple of seconds
// until done closes.
func notifyChanges(host *fuse.FileSystemHost, f *fs.FS, done <-chan struct{}) {
	ctx := context.Background()
	prev := f.SessionFolders(ctx)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		cur := f.SessionFolders(ctx)
		for p, id := range cur {
			old, ok := prev[p]
			if ok && old != id {
				host.Notify(notifyPath(p), fuse.NOTIFY_RMDIR)
			}
			if !ok || old != id {
				host.Notify(notifyPath(p), fuse.NOTIFY_MKDIR)
			}
		}
		for p := range prev {
			if _, ok := cur[p]; !ok {
				host.Notify(notifyPath(p), fuse.NOTIFY_RMDIR)
			}
		}
		prev = cur
	}
}

func notifyPath(p string) string {
	parts := strings.Split(p, "/")
	for i, c := range parts {
		parts[i] = encodeName(c)
	}
	return "/" + strings.Join(parts, "/")
}
