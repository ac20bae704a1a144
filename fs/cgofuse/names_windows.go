package cgofuse

import "github.com/cabinetbackup/cabinet/fs"

// caseInsensitive: Windows looks names up ignoring case (exact match first,
// then case-folded; Getpath reports the real case).
const caseInsensitive = true

// Names invalid on Windows are mapped reversibly (fs.EncodeWindowsName).
func encodeName(name string) string { return fs.EncodeWindowsName(name) }
func decodeName(name string) string { return fs.DecodeWindowsName(name) }
