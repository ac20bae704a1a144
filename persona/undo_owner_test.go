//go:build !windows

package persona

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRootApplyUndoFolderOwnedByUser: when root applies to another user's
// home, the folders it creates for the undo set (~/.local, ~/.local/share,
// ...) belong to that user, and the undo folder is never reached through
// a link out of the home.
func TestRootApplyUndoFolderOwnedByUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	const uid, gid = 54321, 54322
	tests := []struct {
		name    string
		setup   func(t *testing.T, home, outside string)
		created []string // folders (relative to the home) that must be the user's
		wantErr bool
	}{
		{name: "no ~/.local yet",
			created: []string{".local", ".local/share", ".local/share/cabinet", ".local/share/cabinet/persona-undo"}},
		{name: "~/.local exists",
			setup: func(t *testing.T, home, outside string) {
				mkdir(t, filepath.Join(home, ".local"), 0o755)
				if err := os.Chown(filepath.Join(home, ".local"), uid, gid); err != nil {
					t.Fatal(err)
				}
			},
			created: []string{".local/share", ".local/share/cabinet", ".local/share/cabinet/persona-undo"}},
		{name: "~/.local links outside the home",
			setup: func(t *testing.T, home, outside string) {
				symlink(t, outside, filepath.Join(home, ".local"))
			},
			wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			staging, home := capturedPersona(t)
			outside := filepath.Join(filepath.Dir(filepath.Dir(home)), "outside")
			mkdir(t, outside, 0o755)
			if err := os.Chown(home, uid, gid); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, home, outside)
			}
			o := applyTo(staging, home, nil)
			o.Root = boolPtr(true)
			o.UndoDir = DefaultUndoDir(Linux, home)
			_, err := Apply(context.Background(), o)
			if tt.wantErr {
				if err == nil || !isUndoErr(err) {
					t.Errorf("Apply = %v, want an undo set error", err)
				}
				if ents, _ := os.ReadDir(outside); len(ents) > 0 {
					t.Errorf("apply wrote outside the home: %v", ents)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, rel := range tt.created {
				st, err := os.Stat(filepath.Join(home, filepath.FromSlash(rel)))
				if err != nil {
					t.Fatal(err)
				}
				if s := st.Sys().(*syscall.Stat_t); s.Uid != uid || s.Gid != gid {
					t.Errorf("~/%s belongs to %d:%d, want the home's owner %d:%d", rel, s.Uid, s.Gid, uid, gid)
				}
			}
		})
	}
}
