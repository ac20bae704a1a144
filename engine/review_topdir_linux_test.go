//go:build linux

package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/snapshot"
	"golang.org/x/sys/unix"
)

// reviewSource makes a tree of folders (several tops, each with folders
// of folders) and files, and returns its root.
func reviewSource(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	for i := range 4 {
		for j := range 3 {
			d := filepath.Join(src, fmt.Sprintf("top%d", i), fmt.Sprintf("mid%d", j), "leaf")
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for k := range 3 {
				b := bytes.Repeat([]byte(fmt.Sprintf("%d/%d/%d ", i, j, k)), 100*(k+1))
				if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d.txt", k)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("top%d", i), "note.txt"), []byte("note"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// treeOf lists every path below root with its type and, for files,
// content, so two trees can be compared.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			out[rel] = "dir"
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "file:" + string(b)
		default:
			out[rel] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRestored compares the restored tree with the source's, and checks
// that no folder keeps FS_TOPDIR_FL and no temporary folder is left.
func checkRestored(t *testing.T, want map[string]string, restored string) {
	t.Helper()
	got := treeOf(t, restored)
	for p, v := range want {
		if got[p] != v {
			t.Errorf("%s: restored %.30q, want %.30q", p, got[p], v)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: restored, not in the source", p)
		}
	}
	checkNoTopDirLeft(t, restored)
}

func checkNoTopDirLeft(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
		if f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS); err == nil && f&fsTopDirFlag != 0 {
			t.Errorf("%s keeps FS_TOPDIR_FL (flags %#x)", p, f)
		}
		return nil
	})
}

// Restores racing into one target make the same top folders at once
// (markTop, mkdirSpread in the flagged folder and plain mkdir in the
// other's): both finish without a warning, the tree is whole, no
// temporary folder and no flag is left.
func TestReviewConcurrentRestoresSameTarget(t *testing.T) {
	r := newRepo(t)
	src := reviewSource(t)
	s := sessionOf(t, r, src, "a", "b")
	want := treeOf(t, src)
	for round := range 6 {
		target := t.TempDir()
		restoreConcurrently(t, round, r, s, RestoreOptions{Target: target, Workers: 2})
		for _, name := range []string{"a", "b"} {
			checkRestored(t, want, filepath.Join(target, name))
		}
		if t.Failed() {
			return
		}
	}
}

// A restore into a target that does not exist yet, and one into a tree
// restored before (whose folders are all there, so nothing is flagged),
// and one over a tree missing its lower folders (flagged below the top).
func TestReviewRestoreNewAndExistingTarget(t *testing.T) {
	r := newRepo(t)
	src := reviewSource(t)
	s := sessionOf(t, r, src, "a")
	want := treeOf(t, src)
	target := filepath.Join(t.TempDir(), "not", "yet")
	for range 2 {
		if _, err := Restore(context.Background(), r, s, RestoreOptions{Target: target}); err != nil {
			t.Fatal(err)
		}
		checkRestored(t, want, filepath.Join(target, "a"))
	}
	for _, rel := range []string{"a/top1/mid0", "a/top2"} {
		if err := os.RemoveAll(filepath.Join(target, rel)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Restore(context.Background(), r, s, RestoreOptions{Target: target}); err != nil {
		t.Fatal(err)
	}
	checkRestored(t, want, filepath.Join(target, "a"))
}

// Include patterns: the folders on the way are made only once something
// below is restored (made), the top one flagged; the flag is cleared and
// only the selected files are there.
func TestReviewRestoreIncludeTopDir(t *testing.T) {
	r := newRepo(t)
	src := reviewSource(t)
	s := sessionOf(t, r, src, "a")
	target := t.TempDir()
	if _, err := Restore(context.Background(), r, s, RestoreOptions{Target: target, Include: []string{"/a/top1/mid2", "f1.txt"}}); err != nil {
		t.Fatal(err)
	}
	got := treeOf(t, filepath.Join(target, "a"))
	for p, v := range treeOf(t, src) {
		sel := strings.HasPrefix(p, "top1/mid2") || filepath.Base(p) == "f1.txt"
		dirOnWay := v == "dir" && got[p] == "dir"
		switch {
		case sel && got[p] != v:
			t.Errorf("%s: restored %.30q, want %.30q", p, got[p], v)
		case !sel && !dirOnWay && got[p] != "":
			t.Errorf("%s: restored, not selected", p)
		}
	}
	checkNoTopDirLeft(t, target)
}

// Restores with include patterns racing into one target make the
// pending folders on the way (made, mkdirSpread below a flagged top) at
// once: no warning, the selection whole, no temporary folder or flag left.
func TestReviewConcurrentIncludeRestores(t *testing.T) {
	r := newRepo(t)
	src := reviewSource(t)
	s := sessionOf(t, r, src, "a")
	want := treeOf(t, src)
	for round := range 6 {
		target := t.TempDir()
		restoreConcurrently(t, round, r, s, RestoreOptions{Target: target, Workers: 2,
			Include: []string{"/a/top1/mid2", "/a/top3"}})
		got := treeOf(t, filepath.Join(target, "a"))
		for p, v := range want {
			sel := strings.HasPrefix(p, "top1/mid2") || strings.HasPrefix(p, "top3")
			onWay := p == "." || p == "top1"
			switch {
			case sel && got[p] != v:
				t.Errorf("round %d: %s: restored %.30q, want %.30q", round, p, got[p], v)
			case !sel && !onWay && got[p] != "":
				t.Errorf("round %d: %s: restored, not selected", round, p)
			}
		}
		checkNoTopDirLeft(t, target)
		if t.Failed() {
			return
		}
	}
}

// mkdirSpread refuses a name that is a symlink (to a folder or dangling)
// as mkdir does, leaves the link and its target alone, and leaves no
// temporary folder.
func TestReviewMkdirSpreadOverSymlink(t *testing.T) {
	parent := t.TempDir()
	other := t.TempDir()
	for name, target := range map[string]string{"tofolder": other, "dangling": filepath.Join(other, "none")} {
		if err := os.Symlink(target, filepath.Join(parent, name)); err != nil {
			t.Fatal(err)
		}
		err := mkdirSpread(filepath.Join(parent, name), 0o700)
		if !errors.Is(err, os.ErrExist) {
			t.Errorf("mkdirSpread over symlink %s: %v, want ErrExist", name, err)
		}
		if got, err := os.Readlink(filepath.Join(parent, name)); err != nil || got != target {
			t.Errorf("symlink %s now %q, %v", name, got, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(other, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dangling link's target was made: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(parent, ".cabinet-mkdir-*")); len(left) > 0 {
		t.Errorf("left %v", left)
	}
}

// mkdirSpread in a folder whose path is PATH_MAX long or more (inPath on
// both names of the rename).
func TestReviewMkdirSpreadLongPath(t *testing.T) {
	for _, depth := range []int{unix.PathMax - 20, unix.PathMax + 10, 2*unix.PathMax + 10} {
		dir := deepFolder(t, mkdirTemp(t, t.TempDir()), depth)
		path := dir + "/made"
		if err := mkdirSpread(path, 0o700); err != nil {
			t.Fatalf("%d-byte folder: %v", len(dir), err)
		}
		if fi, err := lstat(path); err != nil || !fi.IsDir() {
			t.Fatalf("%d-byte folder: after mkdirSpread %v, %v", len(dir), fi, err)
		}
		if err := mkdirSpread(path, 0o700); !errors.Is(err, os.ErrExist) {
			t.Errorf("%d-byte folder: second mkdirSpread %v, want ErrExist", len(dir), err)
		}
		var names []string
		err := inPath(dir+"/x", func(p string) error {
			entries, err := os.ReadDir(filepath.Dir(p))
			for _, e := range entries {
				names = append(names, e.Name())
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 || names[0] != "made" {
			t.Errorf("%d-byte folder holds %v, want only made", len(dir), names)
		}
	}
}

// On tmpfs FS_TOPDIR_FL is refused: nothing is flagged, mkdirSpread is
// never used, and the restore is as before.
func TestReviewRestoreTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := os.Mkdir(filepath.Join(dir, "probe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if markTopDir(filepath.Join(dir, "probe")) {
		t.Fatal("tmpfs took FS_TOPDIR_FL")
	}
	r := newRepo(t)
	src := reviewSource(t)
	s := sessionOf(t, r, src, "a", "b")
	if _, err := Restore(context.Background(), r, s, RestoreOptions{Target: filepath.Join(dir, "t")}); err != nil {
		t.Fatal(err)
	}
	want := treeOf(t, src)
	for _, name := range []string{"a", "b"} {
		checkRestored(t, want, filepath.Join(dir, "t", name))
	}
}

// A restore into a tree that is there makes no temporary folder in the
// folders it did not make (inotify on each of them): only folders made
// directly in a folder it made and flagged are made under a temporary
// name. And a restore with include patterns racing a full one into the
// same target (pending folders made meanwhile: made's there) leaves the
// tree whole, without flags or temporary folders.
func TestReviewNoTemporaryNamesInExistingFolders(t *testing.T) {
	r := newRepo(t)
	src := reviewSource(t)
	s := sessionOf(t, r, src, "a")
	want := treeOf(t, src)
	target := t.TempDir()
	if _, err := Restore(context.Background(), r, s, RestoreOptions{Target: target}); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"a/top1/mid0/leaf", "a/top2/mid1", "a/top3"} {
		if err := os.RemoveAll(filepath.Join(target, rel)); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	defer unix.Close(fd)
	watched := map[int]string{}
	filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			wd, err := unix.InotifyAddWatch(fd, p, unix.IN_CREATE|unix.IN_MOVED_TO)
			if err != nil {
				t.Fatal(err)
			}
			watched[wd] = p
		}
		return nil
	})
	if _, err := Restore(context.Background(), r, s, RestoreOptions{Target: target}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	var created []string
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			break
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			created = append(created, filepath.Join(watched[int(ev.Wd)], name))
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
	if len(created) == 0 {
		t.Fatal("inotify saw nothing made: the test watches the wrong folders")
	}
	for _, p := range created {
		if strings.HasPrefix(filepath.Base(p), ".cabinet-mkdir-") {
			t.Errorf("temporary folder made in a folder that was there: %s", p)
		}
	}
	checkRestored(t, want, filepath.Join(target, "a"))

	// Include racing a full restore.
	for round := range 4 {
		target := t.TempDir()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, include := range [][]string{nil, {"/a/top1/mid2", "f1.txt"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = Restore(context.Background(), r, s, RestoreOptions{Target: target, Include: include, Workers: 2})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: restore %d: %v", round, i, err)
			}
		}
		checkRestored(t, want, filepath.Join(target, "a"))
	}
}

// chainFlags opens the chain of folders names below root one at a time
// (paths past PATH_MAX) and returns each one's flags and entries.
func chainFlags(t *testing.T, root string, names []string) (flags []uint32, entries [][]string) {
	t.Helper()
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("open %.20s...: %v", name, err)
		}
		fd = next
		f, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		if err != nil {
			t.Fatal(err)
		}
		flags = append(flags, f)
		dup, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		d := os.NewFile(uintptr(dup), name)
		list, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, list)
	}
	unix.Close(fd)
	return flags, entries
}

// A tree deeper than PATH_MAX restored again after its lowest folders,
// past PATH_MAX, were deleted: the folder made there is flagged (markTop
// through inPath) and its folders made by mkdirSpread with names past
// PATH_MAX; the flag is cleared and no temporary folder is left.
func TestReviewRestoreDeepTopDir(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	deep := deepFolder(t, src, unix.PathMax+600)
	names := strings.Split(strings.TrimPrefix(deep, src+"/"), "/")
	// Three more levels below, and a file, made relative to the deep folder.
	err := inPath(deep+"/x", func(p string) error {
		d := filepath.Dir(p)
		if err := os.MkdirAll(filepath.Join(d, "l1", "l2", "l3"), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(d, "l1", "l2", "l3", "f"), []byte("deep"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	names = append(names, "l1", "l2", "l3")
	s := sessionOf(t, r, src, "a")
	target := t.TempDir()
	if _, err := Restore(context.Background(), r, s, RestoreOptions{Target: target}); err != nil {
		t.Fatal(err)
	}
	restoredDeep := filepath.Join(append([]string{target, "a"}, names[:len(names)-3]...)...)
	if len(restoredDeep) < unix.PathMax {
		t.Fatalf("restored path %d bytes, want past PATH_MAX", len(restoredDeep))
	}
	if err := inPath(restoredDeep+"/l1", os.RemoveAll); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	if _, err := Restore(context.Background(), r, s, RestoreOptions{Target: target,
		Warn: func(p string, err error) { warnings = append(warnings, err.Error()) }}); err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	flags, entries := chainFlags(t, filepath.Join(target, "a"), names)
	for i, f := range flags {
		if f&fsTopDirFlag != 0 {
			t.Errorf("level %d keeps FS_TOPDIR_FL", i)
		}
		for _, e := range entries[i] {
			if strings.HasPrefix(e, ".cabinet-mkdir-") {
				t.Errorf("level %d holds %s", i, e)
			}
		}
	}
	if got := entries[len(entries)-1]; len(got) != 1 || got[0] != "f" {
		t.Errorf("the deepest folder holds %v, want f", got)
	}
	var b []byte
	if err := inPath(restoredDeep+"/l1/l2/l3/f", func(p string) (err error) { b, err = os.ReadFile(p); return err }); err != nil || string(b) != "deep" {
		t.Errorf("deep file: %q, %v", b, err)
	}
}

// restoreConcurrently runs four restores of s with o at once and fails t
// on any error or warning.
func restoreConcurrently(t *testing.T, round int, r *repo.Repository, s *snapshot.Session, o RestoreOptions) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	var mu sync.Mutex
	var warnings []string
	o.Warn = func(p string, err error) {
		mu.Lock()
		warnings = append(warnings, p+": "+err.Error())
		mu.Unlock()
	}
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Restore(context.Background(), r, s, o)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("round %d: restore %d: %v", round, i, err)
		}
	}
	if len(warnings) > 0 {
		t.Errorf("round %d: warnings: %v", round, warnings)
	}
}
