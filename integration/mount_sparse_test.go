//go:build linux

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestMountSparseCopy: a sparse file (a disk image: 64 MiB with 1 MiB of
// data) seen through the mount reports the blocks of its data, not of its
// size, so du agrees with the original, and cp --sparse=auto copies it
// out byte for byte and as sparse as it was: through go-fuse it finds the
// holes with SEEK_HOLE and SEEK_DATA; through cgofuse, which has no
// lseek, it reads them and sees zeros (it looks for either only in a file
// with fewer blocks than its size asks for).
func TestMountSparseCopy(t *testing.T) {
	mountRequire(t)
	for _, adapter := range mountAdapters(t) {
		t.Run(adapter, func(t *testing.T) {
			bin := mountBinary(t, adapter)
			e := newEnv(t)
			src := filepath.Join(e.dir, "src")
			image := filepath.Join(src, "disk.img")
			data := coreRandom(7, 1<<20)
			coreWrite(t, image, nil, 0o644)
			f, err := os.OpenFile(image, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(data, 20<<20); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(64 << 20); err != nil {
				t.Fatal(err)
			}
			f.Close()
			name := mountBackup(t, e, src)

			mp := filepath.Join(e.dir, "mnt")
			s := startMount(t, e, bin, mp, "--adapter", adapter)
			defer s.Stop(t)
			mounted := filepath.Join(mp, "testdevice", "files", name, image)
			var st syscall.Stat_t
			if err := syscall.Stat(mounted, &st); err != nil {
				t.Fatal(err)
			}
			// The data's slices and their neighbours: a few MiB at most.
			if st.Size != 64<<20 || st.Blocks*512 > 16<<20 {
				t.Errorf("mounted image: size %d, %d blocks (%d bytes), want 64 MiB in 16 MiB of blocks at most", st.Size, st.Blocks, st.Blocks*512)
			}
			out := filepath.Join(e.dir, "copy.img")
			if msg, err := exec.Command("cp", "--sparse=auto", mounted, out).CombinedOutput(); err != nil {
				t.Fatalf("cp out of the mount: %v: %s", err, msg)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, 64<<20)
			copy(want[20<<20:], data)
			if !bytes.Equal(got, want) {
				t.Fatal("the copy differs from the image")
			}
			if err := syscall.Stat(out, &st); err != nil {
				t.Fatal(err)
			}
			if st.Blocks*512 > 16<<20 {
				t.Errorf("cp --sparse=auto from the mount wrote %d bytes of blocks for 1 MiB of data", st.Blocks*512)
			}
		})
	}
}
