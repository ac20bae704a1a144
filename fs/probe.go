package fs

import "strings"

// probeNames are exact names Finder, Explorer and their helpers look for
// on every volume and folder (MOUNT.md §4), lower-cased.
var probeNames = map[string]bool{
	".ds_store":                 true,
	".localized":                true,
	".hidden":                   true,
	".spotlight-v100":           true,
	".trashes":                  true,
	".fseventsd":                true,
	".volumeicon.icns":          true,
	"desktop.ini":               true,
	"thumbs.db":                 true,
	"autorun.inf":               true,
	"folder.jpg":                true,
	"folder.gif":                true,
	"$recycle.bin":              true,
	"system volume information": true,
}

// IsProbe reports whether name is one file managers probe for (.DS_Store,
// ._*, .localized, .hidden, .Spotlight-V100, .Trashes, .fseventsd,
// .metadata_never_index*, .VolumeIcon.icns, desktop.ini, Thumbs.db,
// autorun.inf, folder.jpg, folder.gif, $RECYCLE.BIN, System Volume
// Information; case-insensitive). The synthetic levels answer these "not
// found" without touching the repository.
func IsProbe(name string) bool {
	if strings.HasPrefix(name, "._") || strings.HasPrefix(name, ".metadata_never_index") {
		return true
	}
	return probeNames[strings.ToLower(name)]
}
