//go:build linux

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const reviewMaxSlice = 4 << 20 // the default chunker's largest slice

// reviewSparseFiles writes files of zeros and data below src and returns
// their contents by name.
func reviewSparseFiles(t *testing.T, src string) map[string][]byte {
	t.Helper()
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	files := map[string][]byte{
		"allzero.img":  make([]byte, 3*reviewMaxSlice),
		"zeroplus.img": make([]byte, 2*reviewMaxSlice+1),
		"mixed.img":    cat(make([]byte, 2*reviewMaxSlice), coreRandom(3, 300<<10), make([]byte, 3*reviewMaxSlice), coreRandom(4, 10)),
		"small.txt":    []byte("hello"),
		"empty":        nil,
	}
	for name, b := range files {
		coreWrite(t, filepath.Join(src, name), b, 0o644)
	}
	// A hard link of the mixed image.
	if err := os.Link(filepath.Join(src, "mixed.img"), filepath.Join(src, "mixed-link.img")); err != nil {
		t.Fatal(err)
	}
	files["mixed-link.img"] = files["mixed.img"]
	return files
}

// lseekHoles walks a file's holes with SEEK_HOLE and SEEK_DATA and checks
// lseek's answers at the end, past it and at negative offsets.
func lseekHoles(t *testing.T, path string, content []byte) (holes [][2]int64) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	size := int64(len(content))
	for off := int64(0); off < size; {
		hs, err := unix.Seek(fd, off, unix.SEEK_HOLE)
		if err != nil || hs < off || hs > size {
			t.Fatalf("%s: SEEK_HOLE %d: %d, %v", path, off, hs, err)
		}
		if hs == size {
			break
		}
		he, err := unix.Seek(fd, hs, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			he = size
		} else if err != nil || he <= hs {
			t.Fatalf("%s: SEEK_DATA %d: %d, %v", path, hs, he, err)
		}
		if !bytes.Equal(content[hs:he], make([]byte, he-hs)) {
			t.Errorf("%s: hole %d-%d holds data", path, hs, he)
		}
		holes = append(holes, [2]int64{hs, he})
		off = he
	}
	for _, off := range []int64{size, size + 1, size + reviewMaxSlice} {
		for _, whence := range []int{unix.SEEK_DATA, unix.SEEK_HOLE} {
			if pos, err := unix.Seek(fd, off, whence); !errors.Is(err, unix.ENXIO) {
				t.Errorf("%s: lseek %d whence %d at or past the end (%d): %d, %v; want ENXIO", path, off, whence, size, pos, err)
			}
		}
	}
	for _, whence := range []int{unix.SEEK_DATA, unix.SEEK_HOLE} {
		if pos, err := unix.Seek(fd, -1, whence); err == nil {
			t.Errorf("%s: lseek -1 whence %d: %d, want an error", path, whence, pos)
		}
	}
	// Data found inside a data range is the offset itself.
	if size > 0 {
		want := int64(0)
		if len(holes) > 0 && holes[0][0] == 0 {
			want = holes[0][1]
		}
		pos, err := unix.Seek(fd, 0, unix.SEEK_DATA)
		if want == size {
			if !errors.Is(err, unix.ENXIO) {
				t.Errorf("%s: SEEK_DATA 0 in a file all hole: %d, %v; want ENXIO", path, pos, err)
			}
		} else if err != nil || pos != want {
			t.Errorf("%s: SEEK_DATA 0: %d, %v; want %d", path, pos, err, want)
		}
	}
	return holes
}

// Through a real mount: st_blocks leaves the slices of zeros out, go-fuse
// answers SEEK_DATA and SEEK_HOLE consistently (holes read as zeros, the
// end and past it are ENXIO, a file all of slices of zeros is all hole),
// and reading, cp --sparse=always, cp --sparse=never and du give the
// file's exact bytes and sizes, hard links included.
func TestReviewMountHolesLseek(t *testing.T) {
	mountRequire(t)
	for _, adapter := range mountAdapters(t) {
		t.Run(adapter, func(t *testing.T) {
			bin := mountBinary(t, adapter)
			e := newEnv(t)
			src := filepath.Join(e.dir, "src")
			files := reviewSparseFiles(t, src)
			name := mountBackup(t, e, src)
			mp := filepath.Join(e.dir, "mnt")
			s := startMount(t, e, bin, mp, "--adapter", adapter)
			defer s.Stop(t)
			dir := filepath.Join(mp, "testdevice", "files", name, src)
			for fname, content := range files {
				mounted := filepath.Join(dir, fname)
				var st syscall.Stat_t
				if err := syscall.Stat(mounted, &st); err != nil {
					t.Fatal(err)
				}
				if st.Size != int64(len(content)) {
					t.Errorf("%s: size %d, want %d", fname, st.Size, len(content))
				}
				got, err := os.ReadFile(mounted)
				if err != nil || !bytes.Equal(got, content) {
					t.Errorf("%s: read through the mount differs (%v)", fname, err)
				}
				var holeBytes int64
				if adapter == "go-fuse" {
					for _, h := range lseekHoles(t, mounted, content) {
						holeBytes += h[1] - h[0]
					}
				}
				// st_blocks covers at least the data lseek finds (cgofuse
				// has no lseek: nothing to compare with).
				if data := int64(len(content)) - holeBytes; adapter == "go-fuse" && st.Blocks*512 < data {
					t.Errorf("%s: %d blocks for %d bytes of data", fname, st.Blocks, data)
				}
				switch fname {
				case "allzero.img":
					if st.Blocks != 0 {
						t.Errorf("%s: %d blocks, want 0", fname, st.Blocks)
					}
					if adapter == "go-fuse" && holeBytes != int64(len(content)) {
						t.Errorf("%s: holes %d bytes, want all %d", fname, holeBytes, len(content))
					}
				case "zeroplus.img", "mixed.img", "mixed-link.img":
					if st.Blocks*512 >= int64(len(content)) {
						t.Errorf("%s: %d blocks, want fewer than its size", fname, st.Blocks)
					}
				}
				for _, mode := range []string{"always", "never", "auto"} {
					out := filepath.Join(e.dir, "copy-"+mode+"-"+fname)
					if msg, err := exec.Command("cp", "--sparse="+mode, mounted, out).CombinedOutput(); err != nil {
						t.Fatalf("cp --sparse=%s %s: %v: %s", mode, fname, err, msg)
					}
					if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, content) {
						t.Errorf("cp --sparse=%s %s: the copy differs (%v)", mode, fname, err)
					}
				}
			}
			// du through the mount (-l: the hard link counted too): the
			// apparent size is the files' sizes.
			out, err := exec.Command("du", "-l", "-s", "-B1", "--apparent-size", dir).Output()
			if err != nil {
				t.Fatal(err)
			}
			var apparent int64
			fmt.Sscan(string(out), &apparent)
			var want int64
			for _, c := range files {
				want += int64(len(c))
			}
			if apparent < want {
				t.Errorf("du --apparent-size %d, want at least %d", apparent, want)
			}
		})
	}
}

// Two 'cabinet restore' runs into one new target at once: both make the
// same top folders. Both finish, the tree is whole, and no temporary
// folder (.cabinet-mkdir-*) or FS_TOPDIR_FL is left.
func TestReviewConcurrentRestoreCLI(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	for i := range 5 {
		for j := range 4 {
			coreWrite(t, filepath.Join(src, fmt.Sprintf("d%d", i), fmt.Sprintf("e%d", j), "f", "x.txt"), []byte(fmt.Sprintf("%d-%d", i, j)), 0o644)
		}
	}
	e.mustRun("backup", src)
	for round := range 3 {
		target := filepath.Join(e.dir, fmt.Sprintf("target%d", round))
		var wg sync.WaitGroup
		res := make([]result, 3)
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = e.run("restore", "--target", target, "latest")
			}()
		}
		wg.Wait()
		for i, r := range res {
			if r.code != 0 {
				t.Errorf("round %d: restore %d: %s", round, i, r)
			}
		}
		restored := filepath.Join(target, src)
		for i := range 5 {
			for j := range 4 {
				p := filepath.Join(restored, fmt.Sprintf("d%d", i), fmt.Sprintf("e%d", j), "f", "x.txt")
				if b, err := os.ReadFile(p); err != nil || string(b) != fmt.Sprintf("%d-%d", i, j) {
					t.Errorf("round %d: %s: %q, %v", round, p, b, err)
				}
			}
		}
		filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".cabinet-mkdir-") {
				t.Errorf("round %d: temporary folder left: %s", round, p)
			}
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				return nil
			}
			defer unix.Close(fd)
			if f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS); err == nil && f&0x00020000 != 0 {
				t.Errorf("round %d: %s keeps FS_TOPDIR_FL", round, p)
			}
			return nil
		})
	}
}

// 'cabinet restore --include' of sparse files into a target that does
// not exist yet: the folders on the way are made only for what is
// selected (the top one flagged while planning), the files are restored
// byte for byte, a file of slices of zeros takes no more blocks than its
// size, and no flag or temporary folder is left.
func TestReviewRestoreIncludeSparseCLI(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	files := reviewSparseFiles(t, filepath.Join(src, "images"))
	coreWrite(t, filepath.Join(src, "other", "deep", "x.txt"), []byte("x"), 0o644)
	e.mustRun("backup", src)
	target := filepath.Join(e.dir, "new", "target")
	e.mustRun("restore", "--target", target, "--include", filepath.Join(src, "images", "*.img"), "latest")
	restored := filepath.Join(target, src)
	for name, content := range files {
		p := filepath.Join(restored, "images", name)
		got, err := os.ReadFile(p)
		if !strings.HasSuffix(name, ".img") {
			if err == nil {
				t.Errorf("%s restored, not selected", name)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s: restored differs (%v)", name, err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if name == "allzero.img" && st.Blocks*512 >= int64(len(content)) {
			t.Errorf("%s: %d blocks for %d bytes of zeros", name, st.Blocks, len(content))
		}
	}
	if _, err := os.Lstat(filepath.Join(restored, "other")); err == nil {
		t.Error("folder other made though nothing in it is selected")
	}
	filepath.WalkDir(filepath.Join(e.dir, "new"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".cabinet-mkdir-") {
			t.Errorf("temporary folder left: %s", p)
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return nil
		}
		defer unix.Close(fd)
		if f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS); err == nil && f&0x00020000 != 0 {
			t.Errorf("%s keeps FS_TOPDIR_FL", p)
		}
		return nil
	})
}
