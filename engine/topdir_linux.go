package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

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

// mkdirSpread makes a folder in one markTopDir flagged. Orlov starts its
// search for the emptiest block group at a hash of the new folder's name,
// so a tree restored again under the same name went to the group its
// previous copy had just left, whose inodes were all recently deleted
// (restores of the corpus one after another reused the very same inode
// for its top folder). Made under a random name and renamed into place
// (RENAME_NOREPLACE: a folder made meanwhile by another restore is left
// alone, as mkdir leaves it), the search starts at a random group.
// Restore of the corpus 10 s after the previous one by the same build
// was deleted, by hand: 3.09-3.83 s, system CPU 1.99-2.92 s, against
// 3.40-3.58 s and 2.68-2.78 s; in make bench 4.22-4.25 s at 6.8-6.9 CPU s
// (two runs in a row) against 3.92-4.99 s at 6.3-8.2 CPU s (three). A
// restore killed between the two steps leaves the empty folder under its
// random name, .cabinet-mkdir-<16 hex digits>, in the top folder.
func mkdirSpread(path string, perm os.FileMode) error {
	var r [8]byte
	rand.Read(r[:])
	tmp := filepath.Join(filepath.Dir(path), ".cabinet-mkdir-"+hex.EncodeToString(r[:]))
	if mkdir(tmp, perm) != nil {
		return mkdir(path, perm)
	}
	err := inPath(tmp, func(from string) error {
		return inPath(path, func(to string) error {
			return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
		})
	})
	if err == nil {
		return nil
	}
	remove(tmp)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return mkdir(path, perm) // no RENAME_NOREPLACE here
	}
	return &os.PathError{Op: "mkdir", Path: path, Err: err}
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
