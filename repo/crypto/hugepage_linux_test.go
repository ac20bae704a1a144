package crypto

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
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

// vmstat reads one counter of /proc/vmstat.
func vmstat(t *testing.T, name string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		t.Skipf("no /proc/vmstat: %v", err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				t.Fatalf("/proc/vmstat line %q: %v", line, err)
			}
			return n
		}
	}
	t.Skipf("no %s in /proc/vmstat", name)
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
	// Memory mapped here, not from the Go heap: heap memory an earlier
	// test touched is reused already faulted in, and advice does not
	// change pages already there.
	b, err := unix.Mmap(-1, 0, 8*hugePageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	before, fallbacks := anonHugeKiB(t), vmstat(t, "thp_fault_fallback")
	adviseHugePages(b)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	after := anonHugeKiB(t)
	// With advice the kernel compacts memory for huge pages if it must
	// (defrag "madvise", the default); only when it tried and found none
	// (a fallback counted) is none given not a failure.
	if after <= before {
		if vmstat(t, "thp_fault_fallback") > fallbacks {
			t.Skipf("the kernel found no free huge page (thp_fault_fallback grew)")
		}
		t.Fatalf("no huge pages given: AnonHugePages %d kB before, %d kB after", before, after)
	}
	if got := after - before; got < hugePageSize>>10 {
		t.Errorf("AnonHugePages grew by %d kB, want at least %d", got, hugePageSize>>10)
	}
}
