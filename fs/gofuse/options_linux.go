package gofuse

func platformOptions(Options) []string { return nil }

// leanListings enables the listing policy: Linux sends READDIRPLUS.
const leanListings = true
