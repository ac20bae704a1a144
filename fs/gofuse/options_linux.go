package gofuse

func platformOptions(Options) []string { return nil }
