package engine

import (
	"io"
	"os"
	"path/filepath"
	"sort"
)

// cacheDirTag names the file that marks a cache folder (Cache Directory
// Tagging Specification, https://bford.info/cachedir/), which begins with
// cacheDirSignature. Browsers, build tools and package managers leave it
// in folders whose content can be made again.
const (
	cacheDirTag       = "CACHEDIR.TAG"
	cacheDirSignature = "Signature: 8a477f597d28d172789f06886806bc55"
)

// isCacheDir reports whether the folder at path, whose sorted entries are
// names, holds a cache directory tag with its signature.
func isCacheDir(path string, names []string) bool {
	if i := sort.SearchStrings(names, cacheDirTag); i == len(names) || names[i] != cacheDirTag {
		return false
	}
	var f *os.File
	err := inPath(filepath.Join(path, cacheDirTag), func(p string) (err error) { f, err = os.Open(p); return err })
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, len(cacheDirSignature))
	if _, err := io.ReadFull(f, buf); err != nil {
		return false
	}
	return string(buf) == cacheDirSignature
}
