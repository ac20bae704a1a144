package cgofuse

import "github.com/cabinetbackup/cabinet/fs"

// Names invalid on Windows are mapped reversibly (fs.EncodeWindowsName).
func encodeName(name string) string { return fs.EncodeWindowsName(name) }
func decodeName(name string) string { return fs.DecodeWindowsName(name) }
