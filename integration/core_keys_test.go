//go:build linux

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

type coreKey struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
	User    string `json:"username"`
	Host    string `json:"hostname"`
}

func coreKeys(t testing.TB, e *env) []coreKey {
	t.Helper()
	r := e.mustRun("key", "list", "--json")
	var keys []coreKey
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil {
		t.Fatalf("key list --json: %v\n%s", err, r)
	}
	return keys
}

func coreCurrentKey(t testing.TB, e *env) string {
	t.Helper()
	for _, k := range coreKeys(t, e) {
		if k.Current {
			return k.ID
		}
	}
	t.Fatal("key list shows no current key")
	return ""
}

func TestCoreKeys(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.dir, "src")
	coreWrite(t, filepath.Join(src, "f.txt"), []byte("kept across password changes\n"), 0o644)
	e.mustRun("backup", src)

	keys := coreKeys(t, e)
	if len(keys) != 1 || !keys[0].Current || len(keys[0].ID) != 64 {
		t.Fatalf("a new repository's keys: %+v", keys)
	}
	first := keys[0].ID

	// Add a second password: both open the repository.
	pw2 := filepath.Join(e.dir, "pw2")
	os.WriteFile(pw2, []byte("second password\n"), 0o600)
	r := e.mustRun("key", "add", "--json", "--new-password-file", pw2)
	var added map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &added); err != nil || len(added["added"]) != 64 {
		t.Fatalf("key add --json: %v %s", err, r)
	}
	second := added["added"]
	e2 := coreWithPassword(t, e, "second password")
	e.mustRun("sessions")
	e2.mustRun("sessions")
	if k := coreKeys(t, e); len(k) != 2 {
		t.Fatalf("key list after add: %+v", k)
	}
	if cur := coreCurrentKey(t, e2); cur != second {
		t.Errorf("opened with the second password, current key is %s, want %s", cur, second)
	}
	r = e.mustRun("key", "list")
	coreOneLine(t, r.stdout, "*", first[:8])
	coreOneLine(t, r.stdout, second[:8])

	// The key in use cannot be removed.
	r = e.run("key", "remove", first[:8])
	if r.code == 0 {
		t.Fatalf("removed the key in use: %s", r)
	}
	coreOneLine(t, r.stderr, first[:8], "in use")
	e.mustRun("sessions")

	// Unknown key ID.
	r = e.run("key", "remove", "ffffffffffff")
	if r.code == 0 {
		t.Fatalf("removed a key that does not exist: %s", r)
	}
	coreOneLine(t, r.stderr, "ffffffffffff", "key list")

	// Remove the other key: its password stops working.
	r = e.mustRun("key", "remove", second[:8])
	coreOneLine(t, r.stdout, "removed key", second[:8])
	e2.expectCode(12, "sessions")
	if k := coreKeys(t, e); len(k) != 1 || k[0].ID != first {
		t.Fatalf("key list after remove: %+v", k)
	}

	// Change the password: the old one fails, the new one works, the data stays.
	pw3 := filepath.Join(e.dir, "pw3")
	os.WriteFile(pw3, []byte("third password\n"), 0o600)
	r = e.mustRun("key", "passwd", "--new-password-file", pw3)
	coreOneLine(t, r.stdout, "password changed")
	r = e.expectCode(12, "sessions")
	coreOneLine(t, r.stderr, "wrong password")
	e3 := coreWithPassword(t, e, "third password")
	keys = coreKeys(t, e3)
	if len(keys) != 1 || keys[0].ID == first || !keys[0].Current {
		t.Fatalf("key list after passwd: %+v", keys)
	}
	target := filepath.Join(e.dir, "restore")
	e3.mustRun("restore", "--target", target, "latest")
	coreDiff(t, src, coreRestored(target, src))
	e3.mustCheck()
	e3.mustRun("backup", src)

	// A missing or empty new password file is refused, and changes nothing.
	r = e3.run("key", "passwd", "--new-password-file", filepath.Join(e.dir, "no-such-file"))
	if r.code == 0 {
		t.Fatalf("passwd with a missing password file: %s", r)
	}
	coreOneLine(t, r.stderr, "no-such-file")
	empty := filepath.Join(e.dir, "empty-pw")
	os.WriteFile(empty, []byte("\n"), 0o600)
	r = e3.run("key", "add", "--new-password-file", empty)
	if r.code == 0 {
		t.Fatalf("key add with an empty password: %s", r)
	}
	coreOneLine(t, r.stderr, "empty")
	if k := coreKeys(t, e3); len(k) != 1 {
		t.Errorf("failed key commands changed the keys: %+v", k)
	}
}
