package persona

import "testing"

// TestManifestIncomplete: capture reports (through the CLI's exit code 3)
// every entry that could not be read, and not machine-bound items or
// settings absent from the device.
func TestManifestIncomplete(t *testing.T) {
	tests := []struct {
		name string
		recs []EntryRecord
		want bool
	}{
		{name: "all captured", recs: []EntryRecord{{Status: StatusCaptured}, {Status: StatusNotFound}, {Status: StatusExcluded}}},
		{name: "machine-bound only", recs: []EntryRecord{{Status: StatusNotPortable, Reason: ReasonSignInAgain},
			{Status: StatusPartial, NotPortable: []NotPortable{{Item: "login", Reason: ReasonSignInAgain}}}}},
		{name: "failed entry", recs: []EntryRecord{{Status: StatusCaptured}, {Status: StatusFailed, Reason: "read x: input/output error"}}, want: true},
		{name: "permission needed", recs: []EntryRecord{{Status: StatusPermission, Reason: "permission needed"}}, want: true},
		{name: "partial: a file could not be read", recs: []EntryRecord{{Status: StatusPartial, Problems: []string{"permission needed: /home/ann/.ssh/id_rsa"}}}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manifest{Entries: tt.recs}
			if got := m.Incomplete(); got != tt.want {
				t.Errorf("Incomplete() = %v, want %v", got, tt.want)
			}
		})
	}
}
