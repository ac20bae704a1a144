//go:build linux || darwin

package gofuse

import "testing"

// step is one event the policy sees: a listing of a folder with files
// files (want: whether it is lean), or a miss.
type step struct {
	miss  bool
	files int
	want  bool
}

func listings(n, files int, want bool) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = step{files: files, want: want}
	}
	return out
}

func seq(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestListingPolicy(t *testing.T) {
	miss := []step{{miss: true}}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a name walker stays lean", listings(1000, 50, true)},
		{"a miss makes listings full", seq(listings(3, 10, true), miss, listings(probeEvery-1, 10, false))},
		{"only small folders are probes", seq(miss, listings(probeEvery-1, 10, false), listings(5, maxProbeFiles+1, false),
			[]step{{files: maxProbeFiles, want: true}}, listings(probeEvery-1, 1, false), []step{{files: 1, want: true}})},
		{"folders of folders are no probes", seq(miss, listings(probeEvery-1, 10, false), listings(3, 0, false), []step{{files: 2, want: true}})},
		{"a stat walker stays full", seq(miss, listings(probeEvery-1, 10, false), []step{{files: 3, want: true}}, miss,
			listings(probeEvery-1, 10, false), []step{{files: 3, want: true}}, miss, listings(probeEvery-1, 10, false))},
		{"probes without a miss make listings lean", seq(miss,
			listings(probeEvery-1, 10, false), []step{{files: 3, want: true}},
			listings(probeEvery-1, 10, false), []step{{files: 3, want: true}},
			listings(10, 10, true))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p listingPolicy
			for i, s := range tt.steps {
				if s.miss {
					p.miss()
					continue
				}
				if got := p.lean(func(limit int) int { return min(s.files, limit) }); got != s.want {
					t.Fatalf("step %d: listing of %d files lean=%v, want %v", i, s.files, got, s.want)
				}
			}
		})
	}
}
