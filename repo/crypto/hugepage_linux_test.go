package crypto

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// anonHugeKiB reads the process's AnonHugePages from smaps_rollup.
func anonHugeKiB(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skipf("no smaps_rollup: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "AnonHugePages:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("AnonHugePages line %q: %v", sc.Text(), err)
			}
			return kib
		}
	}
	t.Skip("no AnonHugePages in smaps_rollup")
	return 0
}

func TestAdviseHugePages(t *testing.T) {
	// Slices too small or too short to hold an aligned huge page, at
	// every alignment: advice is skipped without a fault.
	for _, n := range []int{0, 1, 4096, hugePageSize, 2*hugePageSize - 1} {
		b := make([]byte, n+4096)
		for _, off := range []int{0, 1, 4095} {
			adviseHugePages(b[off : off+n])
		}
	}

	// Skipped where huge pages are off, or given only when one happens to
	// be free (defrag "never").
	for _, setting := range []string{"enabled", "defrag"} {
		mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/" + setting)
		if err != nil || bytes.Contains(mode, []byte("[never]")) {
			t.Skipf("transparent huge pages %s: %q (%v)", setting, bytes.TrimSpace(mode), err)
		}
	}
	before := anonHugeKiB(t)
	b := make([]byte, 8*hugePageSize)
	adviseHugePages(b)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	after := anonHugeKiB(t)
	runtime.KeepAlive(b)
	// With advice the kernel compacts memory for huge pages if it must
	// (defrag "madvise", the default), so none given is a failure.
	if after <= before {
		t.Fatalf("no huge pages given: AnonHugePages %d kB before, %d kB after", before, after)
	}
	if got := after - before; got < hugePageSize>>10 {
		t.Errorf("AnonHugePages grew by %d kB, want at least %d", got, hugePageSize>>10)
	}
}
