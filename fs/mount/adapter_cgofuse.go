//go:build windows || (linux && cgo && cgofuse)

package mount

import (
	"github.com/cabinetbackup/cabinet/fs"
	"github.com/cabinetbackup/cabinet/fs/cgofuse"
)

const cgofuseBuilt = true

func mountCgofuse(f *fs.FS, mountpoint string, o Options) (server, error) {
	return cgofuse.Mount(f, mountpoint, cgofuse.Options{VolumeName: o.VolumeName, Debug: o.Debug, Logf: o.Logf})
}
