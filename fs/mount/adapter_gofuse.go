//go:build (linux || darwin) && !386 && !arm && !mips && !mipsle

package mount

import (
	"github.com/cabinetbackup/cabinet/fs"
	"github.com/cabinetbackup/cabinet/fs/gofuse"
)

const goFuseBuilt = true

func mountGoFuse(f *fs.FS, mountpoint string, o Options) (server, error) {
	return gofuse.Mount(f, mountpoint, gofuse.Options{VolumeName: o.VolumeName, Debug: o.Debug, Logf: o.Logf})
}
