//go:build !linux && !darwin

package mount

import (
	"fmt"
	"runtime"

	"github.com/cabinetbackup/cabinet/fs"
)

const goFuseBuilt = false

func mountGoFuse(*fs.FS, string, Options) (server, error) {
	return nil, fmt.Errorf("%w: go-fuse runs on Linux and macOS only; on %s use --adapter %s", ErrUnavailable, runtime.GOOS, Cgofuse)
}
