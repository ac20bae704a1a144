//go:build !(linux || darwin) || 386 || arm || mips || mipsle

package mount

import (
	"fmt"
	"runtime"

	"github.com/cabinetbackup/cabinet/fs"
)

const goFuseBuilt = false

// On 32-bit Linux go-fuse v2.12 does not compile (its splice package
// assigns splice(2)'s int result to an int64), so those builds mount
// through cgofuse only.
func mountGoFuse(*fs.FS, string, Options) (server, error) {
	if runtime.GOOS == "linux" { // darwin has no 32-bit port
		return nil, fmt.Errorf("%w: go-fuse does not build for 32-bit Linux (%s); build with cgo and -tags cgofuse (libfuse-dev installed) and use --adapter %s", ErrUnavailable, runtime.GOARCH, Cgofuse)
	}
	return nil, fmt.Errorf("%w: go-fuse runs on Linux and macOS only; on %s use --adapter %s", ErrUnavailable, runtime.GOOS, Cgofuse)
}
