//go:build !(windows || (linux && cgo && cgofuse))

package mount

import (
	"fmt"
	"runtime"

	"github.com/cabinetbackup/cabinet/fs"
)

const cgofuseBuilt = false

func mountCgofuse(*fs.FS, string, Options) (server, error) {
	if runtime.GOOS == "linux" {
		return nil, fmt.Errorf("%w: this cabinet was built without the cgofuse adapter; install libfuse (apt-get install libfuse-dev) and build with cgo and -tags cgofuse (go build -tags cgofuse ./cmd/cabinet), or use --adapter %s", ErrUnavailable, GoFuse)
	}
	return nil, fmt.Errorf("%w: the cgofuse adapter is built for Windows and (with -tags cgofuse) Linux; on %s use --adapter %s", ErrUnavailable, runtime.GOOS, GoFuse)
}
