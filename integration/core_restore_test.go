//go:build linux

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// coreRestoreStats is the "stats" object of restore --json.
type coreRestoreStats struct {
	Files        int64 `json:"files"`
	Dirs         int64 `json:"dirs"`
	Links        int64 `json:"links"`
	Bytes        int64 `json:"bytes"`
	Skipped      int64 `json:"skipped"`
	Verified     int64 `json:"verified"`
	Warnings     int64 `json:"warnings"`
	VerifyFailed int64 `json:"verify_failed"`
}

func coreRestoreJSON(t testing.TB, e *env, args ...string) coreRestoreStats {
	t.Helper()
	r := e.mustRun(append([]string{"restore", "--json"}, args...)...)
	var out struct {
		Session string           `json:"session"`
		Stats   coreRestoreStats `json:"stats"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("restore --json: %v\n%s", err, r)
	}
	return out.Stats
}

// coreFiles lists the regular files below root, relative and sorted.
func coreFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

var coreRestoreTree = map[string]string{
	"docs/a.txt":          "alpha\n",
	"docs/b.log":          "log lines\n",
	"docs/deep/c.txt":     "gamma\n",
	"photos/p1.jpg":       "jpeg bytes",
	"photos/raw/p2.raw":   "raw bytes",
	"photos/raw/p3.txt":   "sidecar",
	"tmp/scratch.tmp":     "scratch",
	"top.txt":             "top level",
	"node_modules/x/y.js": "module",
}

func coreMakeRestoreTree(t *testing.T, src string) {
	for p, c := range coreRestoreTree {
		coreWrite(t, filepath.Join(src, p), []byte(c), 0o644)
	}
}

func TestCoreRestoreIncludeExclude(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreMakeRestoreTree(t, src)
	e.mustRun("backup", src)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"everything", nil, []string{"docs/a.txt", "docs/b.log", "docs/deep/c.txt", "node_modules/x/y.js", "photos/p1.jpg", "photos/raw/p2.raw", "photos/raw/p3.txt", "top.txt", "tmp/scratch.tmp"}},
		{"include a folder", []string{"--include", filepath.Join(src, "docs")}, []string{"docs/a.txt", "docs/b.log", "docs/deep/c.txt"}},
		{"include a file", []string{"--include", filepath.Join(src, "photos/raw/p2.raw")}, []string{"photos/raw/p2.raw"}},
		{"include two", []string{"--include", filepath.Join(src, "docs/deep"), "--include", filepath.Join(src, "top.txt")}, []string{"docs/deep/c.txt", "top.txt"}},
		{"include a name pattern", []string{"--include", "*.txt"}, []string{"docs/a.txt", "docs/deep/c.txt", "photos/raw/p3.txt", "top.txt"}},
		{"include a path pattern", []string{"--include", filepath.Join(src, "*/raw")}, []string{"photos/raw/p2.raw", "photos/raw/p3.txt"}},
		{"include a relative path pattern", []string{"--include", "raw/*.txt"}, []string{"photos/raw/p3.txt"}},
		{"include with **", []string{"--include", filepath.Join(src, "**/c.txt"), "--include", "photos/**/*.raw"}, []string{"docs/deep/c.txt", "photos/raw/p2.raw"}},
		{"exclude a name pattern", []string{"--exclude", "*.log", "--exclude", "*.tmp"}, []string{"docs/a.txt", "docs/deep/c.txt", "node_modules/x/y.js", "photos/p1.jpg", "photos/raw/p2.raw", "photos/raw/p3.txt", "top.txt"}},
		{"exclude a folder name", []string{"--exclude", "node_modules"}, []string{"docs/a.txt", "docs/b.log", "docs/deep/c.txt", "photos/p1.jpg", "photos/raw/p2.raw", "photos/raw/p3.txt", "top.txt", "tmp/scratch.tmp"}},
		{"exclude with **", []string{"--exclude", "**/deep", "--exclude", "photos/**/p?.*"}, []string{"docs/a.txt", "docs/b.log", "node_modules/x/y.js", "top.txt", "tmp/scratch.tmp"}},
		{"exclude a folder path", []string{"--exclude", filepath.Join(src, "photos")}, []string{"docs/a.txt", "docs/b.log", "docs/deep/c.txt", "node_modules/x/y.js", "top.txt", "tmp/scratch.tmp"}},
		{"include and exclude", []string{"--include", filepath.Join(src, "photos"), "--exclude", "*.raw"}, []string{"photos/p1.jpg", "photos/raw/p3.txt"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := coreFor(t, e)
			target := filepath.Join(e.dir, "r", string(rune('a'+i)))
			args := append(append([]string{}, c.args...), "--target", target, "latest")
			st := coreRestoreJSON(t, e, args...)
			got := coreFiles(t, coreRestored(target, src))
			sort.Strings(c.want)
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("restore %v:\n got  %q\n want %q", c.args, got, c.want)
			}
			if st.Files != int64(len(c.want)) {
				t.Errorf("stats say %d files, %d restored", st.Files, len(c.want))
			}
			for _, f := range got {
				data, _ := os.ReadFile(filepath.Join(coreRestored(target, src), f))
				if string(data) != coreRestoreTree[f] {
					t.Errorf("%s: %q, want %q", f, data, coreRestoreTree[f])
				}
			}
			// Include patterns make only the folders on the way to what
			// they select (an excluded file's folder is still restored).
			filepath.WalkDir(coreRestored(target, src), func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() && !slices.Contains(c.args, "--exclude") {
					if ents, _ := os.ReadDir(p); len(ents) == 0 {
						t.Errorf("restore %v made the empty folder %s", c.args, p)
					}
				}
				return nil
			})
		})
	}
	t.Run("include that matches nothing", func(t *testing.T) {
		e := coreFor(t, e)
		target := filepath.Join(e.dir, "r", "none")
		r := e.expectCode(1, "restore", "--include", "*.none", "--target", target, "latest")
		coreOneLine(t, r.stderr, "nothing", "*.none")
		if ents, _ := os.ReadDir(target); len(ents) != 0 {
			t.Errorf("an include that matches nothing made %d entries in the target", len(ents))
		}
	})
}

func TestCoreRestoreOverwrite(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreMakeRestoreTree(t, src)
	e.mustRun("backup", src)
	n := int64(len(coreRestoreTree))

	// Prepare a target: restore everything, then
	//  - grow docs/a.txt (different size and time),
	//  - rewrite docs/b.log with same size and put its time back (looks unchanged),
	//  - delete top.txt.
	prepare := func(t *testing.T) string {
		target := t.TempDir()
		coreRestoreJSON(t, e, "--target", target, "latest")
		root := coreRestored(target, src)
		if err := os.WriteFile(filepath.Join(root, "docs/a.txt"), []byte("edited after the restore\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		b := filepath.Join(root, "docs/b.log")
		fi, _ := os.Stat(b)
		os.WriteFile(b, []byte("LOG LINES\n"), 0o644)
		os.Chtimes(b, fi.ModTime(), fi.ModTime())
		os.Remove(filepath.Join(root, "top.txt"))
		return target
	}
	read := func(target, p string) string {
		data, err := os.ReadFile(filepath.Join(coreRestored(target, src), p))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(data)
	}
	cases := []struct {
		policy      string
		skipped     int64
		a, b        string
		description string
	}{
		{"never", n - 1, "edited after the restore\n", "LOG LINES\n", "existing files are kept, missing ones restored"},
		{"if-changed", n - 2, "alpha\n", "LOG LINES\n", "files that differ in size or time are rewritten; same size and time count as unchanged"},
		{"always", 0, "alpha\n", "log lines\n", "every file is rewritten"},
	}
	for _, c := range cases {
		t.Run(c.policy, func(t *testing.T) {
			e := coreFor(t, e)
			target := prepare(t)
			st := coreRestoreJSON(t, e, "--overwrite", c.policy, "--target", target, "latest")
			if st.Skipped != c.skipped || st.Files != n-c.skipped {
				t.Errorf("--overwrite %s (%s): skipped %d, restored %d; want %d and %d", c.policy, c.description, st.Skipped, st.Files, c.skipped, n-c.skipped)
			}
			if got := read(target, "docs/a.txt"); got != c.a {
				t.Errorf("--overwrite %s: docs/a.txt is %q, want %q", c.policy, got, c.a)
			}
			if got := read(target, "docs/b.log"); got != c.b {
				t.Errorf("--overwrite %s: docs/b.log is %q, want %q", c.policy, got, c.b)
			}
			if got := read(target, "top.txt"); got != "top level" {
				t.Errorf("--overwrite %s: missing top.txt not restored: %q", c.policy, got)
			}
		})
	}
	r := e.expectCode(2, "restore", "--overwrite", "sometimes", "--target", t.TempDir(), "latest")
	coreOneLine(t, r.stderr, "sometimes", "never")
}

func TestCoreRestoreVerify(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreMakeRestoreTree(t, src)
	coreWrite(t, filepath.Join(src, "big.bin"), coreRandom(9, 9<<20+3), 0o644)
	// More slices than one part of a restore (engine partSlices): written
	// in ranges by several workers, and verified too.
	coreWrite(t, filepath.Join(src, "huge.bin"), coreRandom(10, 40<<20+5), 0o644)
	coreWrite(t, filepath.Join(src, "empty"), nil, 0o644)
	e.mustRun("backup", src)
	n := int64(len(coreRestoreTree) + 3)

	target := filepath.Join(e.dir, "r1")
	r := e.mustRun("restore", "--verify", "--target", target, "latest")
	coreOneLine(t, r.stdout, "verified "+itoa(n)+" files, 0 differ")
	coreDiff(t, src, coreRestored(target, src))

	target2 := filepath.Join(e.dir, "r2")
	st := coreRestoreJSON(t, e, "--verify", "--target", target2, "latest")
	if st.Verified != n || st.VerifyFailed != 0 || st.Warnings != 0 {
		t.Errorf("restore --verify --json: %+v, want %d verified", st, n)
	}
}

func itoa(n int64) string { return strings.TrimSpace(strings.Replace(jsonString(n), `"`, "", -1)) }

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestCoreSessionsAndRestoreBySpec(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	f := filepath.Join(src, "version.txt")
	var ids []string
	for i, content := range []string{"one\n", "two\n", "three\n"} {
		coreWrite(t, f, []byte(content), 0o644)
		tag := []string{"--tag", "round" + itoa(int64(i))}
		if i == 0 {
			tag = append(tag, "--tag", "first")
		}
		s, _ := coreBackup(t, e, 0, append(tag, src)...)
		ids = append(ids, s.ID)
		if i == 0 {
			time.Sleep(1100 * time.Millisecond) // a time name of its own
		}
	}
	// Another device in the same repository.
	other, _ := coreBackup(t, e, 0, "--device", "laptop", src)

	ss := coreSessions(t, e)
	if len(ss) != 4 {
		t.Fatalf("sessions --json: %d sessions, want 4", len(ss))
	}
	byID := map[string]coreSession{}
	hexID := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for i, s := range ss {
		byID[s.ID] = s
		if !hexID.MatchString(s.ID) || s.ShortID != s.ID[:8] {
			t.Errorf("session %d: id %q, short_id %q", i, s.ID, s.ShortID)
		}
		ts, err := time.Parse(time.RFC3339Nano, s.Time)
		if err != nil {
			t.Errorf("session %d: time %q: %v", i, s.Time, err)
		}
		if !strings.HasPrefix(s.TimeName, ts.Local().Format("2006-01-02 15.04.05")) {
			t.Errorf("session %d: time_name %q does not match time %q", i, s.TimeName, s.Time)
		}
		if s.Source != "files" || s.Status != "completed" || s.OS == "" || s.Arch == "" || s.Hostname == "" || s.User == "" || s.Tree == "" {
			t.Errorf("session %d: missing fields: %+v", i, s)
		}
		if len(s.Paths) != 1 || s.Paths[0] != src {
			t.Errorf("session %d: paths %q, want [%s]", i, s.Paths, src)
		}
		if s.Summary.TotalFiles != 1 || s.Summary.Dirs < 1 {
			t.Errorf("session %d: summary %+v", i, s.Summary)
		}
		if i > 0 && ss[i-1].Time > s.Time && ss[i-1].Time[:19] > s.Time[:19] {
			t.Errorf("sessions not oldest first: %q before %q", ss[i-1].Time, s.Time)
		}
	}
	for i, id := range ids {
		s, ok := byID[id]
		if !ok {
			t.Fatalf("session %s of backup %d not listed", id, i)
		}
		if s.Device != "testdevice" {
			t.Errorf("device %q", s.Device)
		}
		wantParent := ""
		if i > 0 {
			wantParent = ids[i-1]
		}
		if s.Parent != wantParent {
			t.Errorf("backup %d: parent %q, want %q", i, s.Parent, wantParent)
		}
		wantTags := "round" + itoa(int64(i))
		if i == 0 {
			wantTags += ",first"
		}
		if strings.Join(s.Tags, ",") != wantTags {
			t.Errorf("backup %d: tags %q, want %s", i, s.Tags, wantTags)
		}
	}
	if byID[other.ID].Device != "laptop" || byID[other.ID].Parent != "" {
		t.Errorf("other device's session: %+v", byID[other.ID])
	}
	if got := coreSessions(t, e, "--device", "laptop"); len(got) != 1 || got[0].ID != other.ID {
		t.Errorf("sessions --device laptop: %+v", got)
	}
	if got := coreSessions(t, e, "--device", "nobody-here"); len(got) != 0 {
		t.Errorf("sessions of an unknown device: %+v", got)
	}
	// --tag keeps the sessions with every tag named; the table shows tags.
	for _, c := range []struct {
		tags []string
		want []string
	}{
		{[]string{"first"}, ids[:1]},
		{[]string{"round1"}, ids[1:2]},
		{[]string{"first", "round0"}, ids[:1]},
		{[]string{"first", "round1"}, nil},
	} {
		var args []string
		for _, tg := range c.tags {
			args = append(args, "--tag", tg)
		}
		var got []string
		for _, s := range coreSessions(t, e, args...) {
			got = append(got, s.ID)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("sessions %v: %q, want %q", args, got, c.want)
		}
	}
	if out := e.mustRun("sessions", "--tag", "first").stdout; !strings.Contains(out, "TAGS") || !strings.Contains(out, "round0,first") {
		t.Errorf("sessions --tag first shows no tags:\n%s", out)
	}
	if out := e.mustRun("sessions", "--device", "testdevice", "--tag", "nope").stdout; strings.TrimSpace(out) != "no sessions tagged nope" {
		t.Errorf("sessions of a device with no session so tagged: %q", out)
	}

	content := func(spec string, extra ...string) string {
		t.Helper()
		target := t.TempDir()
		e.mustRun(append(append([]string{"restore", "--target", target}, extra...), spec)...)
		data, err := os.ReadFile(coreRestored(target, f))
		if err != nil {
			t.Fatalf("restore %s: %v", spec, err)
		}
		return string(data)
	}
	first := byID[ids[0]]
	for _, c := range []struct{ spec, want string }{
		{first.TimeName, "one\n"},
		{ids[1], "two\n"},
		{ids[1][:8], "two\n"},
		{coreUniquePrefix(ids, other.ID, 1), "two\n"},
		{ids[0][:12], "one\n"},
	} {
		if got := content(c.spec, "--device", "testdevice"); got != c.want {
			t.Errorf("restore %q: got %q, want %q", c.spec, got, c.want)
		}
	}
	if got := content("latest", "--device", "testdevice"); got != "three\n" {
		t.Errorf("restore latest --device testdevice: %q", got)
	}
	r := e.expectCode(1, "restore", "--target", t.TempDir(), "2001-01-01 00.00.00")
	coreOneLine(t, r.stderr, "2001-01-01 00.00.00", "latest")
}

// coreUniquePrefix returns the shortest prefix of ids[i] no other ID shares.
func coreUniquePrefix(ids []string, extra string, i int) string {
	all := append(append([]string{}, ids...), extra)
	for n := 1; n <= len(ids[i]); n++ {
		p := ids[i][:n]
		unique := true
		for j, o := range all {
			if j != i && strings.HasPrefix(o, p) {
				unique = false
			}
		}
		if unique {
			return p
		}
	}
	return ids[i]
}

// TestCoreRestoreOverPlantedEntries: entries already at the target that are
// not what the session has (a symlink or FIFO where a file goes, a
// symlink where a folder goes) are never followed: nothing outside the
// target changes, and restore does not hang.
func TestCoreRestoreOverPlantedEntries(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreMakeRestoreTree(t, src)
	e.mustRun("backup", src)

	for _, policy := range []string{"if-changed", "always"} {
		t.Run(policy, func(t *testing.T) {
			e := coreFor(t, e)
			outside := t.TempDir()
			victim := filepath.Join(outside, "victim.txt")
			coreWrite(t, victim, []byte("must stay as it is\n"), 0o644)
			target := t.TempDir()
			root := coreRestored(target, src)
			os.MkdirAll(filepath.Join(root, "docs"), 0o755)
			os.MkdirAll(filepath.Join(root, "photos"), 0o755)
			// A symlink where docs/a.txt goes.
			if err := os.Symlink(victim, filepath.Join(root, "docs/a.txt")); err != nil {
				t.Fatal(err)
			}
			// A FIFO where top.txt goes: opening it for writing would block.
			if err := syscallMkfifo(filepath.Join(root, "top.txt")); err != nil {
				t.Fatal(err)
			}
			// A symlink where the folder photos/raw goes.
			if err := os.Symlink(outside, filepath.Join(root, "photos/raw")); err != nil {
				t.Fatal(err)
			}
			cmd := e.command("restore", "--json", "--overwrite", policy, "--target", target, "latest")
			done := make(chan result, 1)
			go func() { done <- coreRunCmd(t, cmd) }()
			var r result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("restore hung on a FIFO in the target")
			}
			if r.code != 0 && r.code != 3 {
				t.Fatalf("restore over planted entries: %s", r)
			}
			if data, _ := os.ReadFile(victim); string(data) != "must stay as it is\n" {
				t.Errorf("restore wrote through a symlink outside its target: victim now %q", data)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 1 {
				t.Errorf("restore wrote into a folder outside its target through a symlink: %v", ents)
			}
			for _, p := range []string{"docs/a.txt", "top.txt"} {
				fi, err := os.Lstat(filepath.Join(root, p))
				if err != nil || !fi.Mode().IsRegular() {
					t.Errorf("%s not restored as a file: %v %v", p, fi.Mode(), err)
					continue
				}
				if data, _ := os.ReadFile(filepath.Join(root, p)); string(data) != coreRestoreTree[p] {
					t.Errorf("%s: %q, want %q", p, data, coreRestoreTree[p])
				}
			}
		})
	}
}

// TestCoreRestoreOverwriteHardLinks: the overwrite policy also holds for
// the second name of a hard-linked file.
func TestCoreRestoreOverwriteHardLinks(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "a/first"), []byte("linked content\n"), 0o644)
	os.MkdirAll(filepath.Join(src, "b"), 0o755)
	if err := os.Link(filepath.Join(src, "a/first"), filepath.Join(src, "b/second")); err != nil {
		t.Fatal(err)
	}
	e.mustRun("backup", src)
	cases := []struct{ policy, want string }{
		{"never", "my own file\n"},
		{"if-changed", "linked content\n"},
		{"always", "linked content\n"},
	}
	for _, c := range cases {
		t.Run(c.policy, func(t *testing.T) {
			e := coreFor(t, e)
			target := t.TempDir()
			e.mustRun("restore", "--target", target, "latest")
			second := coreRestored(target, filepath.Join(src, "b/second"))
			os.Remove(second)
			coreWrite(t, second, []byte("my own file\n"), 0o644)
			e.mustRun("restore", "--overwrite", c.policy, "--target", target, "latest")
			if data, _ := os.ReadFile(second); string(data) != c.want {
				t.Errorf("--overwrite %s: b/second is %q, want %q", c.policy, data, c.want)
			}
			if c.want == "linked content\n" && coreInode(t, second) != coreInode(t, coreRestored(target, filepath.Join(src, "a/first"))) {
				t.Errorf("--overwrite %s: b/second is not a link of a/first", c.policy)
			}
		})
	}
}
