package crypto

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// procValue reads the number that follows key on a line of a /proc file
// of "key value [kB]" lines (smaps_rollup, vmstat).
func procValue(t *testing.T, file, key string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Skipf("%s: %v", file, err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					return n
				}
			}
			t.Fatalf("%s: line %q has no number", file, line)
		}
	}
	t.Skipf("%s has no %s", file, key)
	return 0
}

// anonHugeKiB is the process's memory in transparent huge pages.
func anonHugeKiB(t *testing.T) int { return procValue(t, "/proc/self/smaps_rollup", "AnonHugePages:") }

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
	// Memory mapped here, not from the Go heap: heap memory an earlier
	// test touched is reused already faulted in, and advice does not
	// change pages already there.
	b, err := unix.Mmap(-1, 0, 8*hugePageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	before, fallbacks := anonHugeKiB(t), procValue(t, "/proc/vmstat", "thp_fault_fallback ")
	adviseHugePages(b)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	after := anonHugeKiB(t)
	// With advice the kernel compacts memory for huge pages if it must
	// (defrag "madvise", the default); only when it tried and found none
	// (a fallback counted) is none given not a failure.
	if after <= before {
		if procValue(t, "/proc/vmstat", "thp_fault_fallback ") > fallbacks {
			t.Skipf("the kernel found no free huge page (thp_fault_fallback grew)")
		}
		t.Fatalf("no huge pages given: AnonHugePages %d kB before, %d kB after", before, after)
	}
	if got := after - before; got < hugePageSize>>10 {
		t.Errorf("AnonHugePages grew by %d kB, want at least %d", got, hugePageSize>>10)
	}
}
