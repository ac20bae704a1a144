package engine

import "golang.org/x/sys/unix"

// markTopDir sets FS_TOPDIR_FL (chattr +T) on a folder the restore has
// just made in one it did not make: the top of a restored tree. ext4's
// Orlov allocator then places each folder made in it in a block group
// with free inodes and blocks and few folders, as it does for the
// folders of /home, instead of next to the parent's group. Where a tree
// was just deleted (the previous restore of the same session, say),
// the parent's group is full of inodes ext4 without a journal will not
// hand out for a minute (recently_deleted), and it checked them one by
// one for every file created: restore of the benchmark corpus 10 s
// after the previous one was deleted, three interleaved pairs, 3.56-3.74
// s against 4.10-4.93, system CPU 3.0-3.2 s against 4.0-5.7. The flag is
// only a hint, is not inherited, and clearTopDir takes it off once the
// folders are made. It reports whether the flag was set (other file
// systems refuse it, which costs nothing).
func markTopDir(path string) bool {
	return changeFlags(path, func(f int) int { return f | fsTopDirFlag })
}

// clearTopDir takes markTopDir's flag off again.
func clearTopDir(path string) {
	changeFlags(path, func(f int) int { return f &^ fsTopDirFlag })
}

// fsTopDirFlag is FS_TOPDIR_FL of linux/fs.h, which x/sys/unix lacks.
const fsTopDirFlag = 0x00020000

func changeFlags(path string, change func(int) int) bool {
	return inPath(path, func(p string) error {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		if err != nil {
			return err
		}
		if next := change(int(flags)); next != int(flags) {
			return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, next)
		}
		return nil
	}) == nil
}
