package cgofuse

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
