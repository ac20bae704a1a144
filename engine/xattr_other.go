//go:build !linux && !windows

package engine

import "github.com/cabinetbackup/cabinet/snapshot"

func readXattrs(string) []snapshot.Xattr { return nil }
