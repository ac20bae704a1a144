//go:build !linux

package engine

import "github.com/cabinetbackup/cabinet/snapshot"

func writeXattrs(string, []snapshot.Xattr) error { return nil }
