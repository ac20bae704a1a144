//go:build !linux && !darwin

package persona

import "os"

func readXattrs(string) (map[string][]byte, bool) { return nil, false }

func writeXattrs(string, map[string][]byte) error { return nil }

func readFileXattrs(*os.File) (map[string][]byte, bool) { return nil, false }

func writeFileXattrs(*os.File, map[string][]byte) error { return nil }
