package limit

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/cabinetbackup/cabinet/repo/backend/backendtest"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
)

// TestLimitedBackendBehaves: the wrapper passes the backend contract.
func TestLimitedBackendBehaves(t *testing.T) {
	be, err := Uploads(local.New(t.TempDir()), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	backendtest.Run(t, be)
}

// TestUploadsWaitForTheRate: 3 MiB written at 1 MiB/s through Put and a
// temporary file take at least the time the rate allows after the first
// burst (a lower bound only: the rate is a ceiling), and arrive whole.
func TestUploadsWaitForTheRate(t *testing.T) {
	ctx := context.Background()
	be, err := Uploads(local.New(t.TempDir()), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("cabinet "), (1<<20)/8)
	start := time.Now()
	if err := be.Put(ctx, "data/a", data); err != nil {
		t.Fatal(err)
	}
	tf, err := be.TempFile(ctx, "data")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := tf.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tf.Commit(ctx, "data/b"); err != nil {
		t.Fatal(err)
	}
	burst := time.Duration(be.lim.Burst()) * time.Second / (1 << 20)
	if took, least := time.Since(start), 3*time.Second-burst; took < least {
		t.Errorf("3 MiB at 1 MiB/s took %v, less than %v", took, least)
	}
	for _, name := range []string{"data/a", "data/b"} {
		got, err := be.Get(ctx, name, 0, 0)
		if err != nil || (name == "data/a" && !bytes.Equal(got, data)) || (name == "data/b" && len(got) != 2*len(data)) {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
	}

	// A cancelled context ends the wait.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := be.Put(cctx, "data/c", data); err == nil {
		t.Error("a cancelled Put succeeded")
	}
}

func TestUploadsRefusesNonsense(t *testing.T) {
	if _, err := Uploads(local.New(t.TempDir()), 0); err == nil {
		t.Error("a rate of 0 was taken")
	}
}
