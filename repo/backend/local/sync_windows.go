package local

// syncDir is a no-op on Windows, where folders cannot be opened for fsync.
func syncDir(dir string) error { return nil }
