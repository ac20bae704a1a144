package local_test

import (
	"testing"

	"github.com/cabinetbackup/cabinet/repo/backend/backendtest"
	"github.com/cabinetbackup/cabinet/repo/backend/local"
)

func TestConformance(t *testing.T) {
	be := local.New(t.TempDir())
	defer be.Close()
	backendtest.Run(t, be)
	tmp, err := be.TempFiles()
	if err != nil || len(tmp) != 0 {
		t.Fatalf("temporary files left: %v %v", tmp, err)
	}
}
