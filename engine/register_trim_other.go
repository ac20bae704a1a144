//go:build !linux

package engine

import bolt "go.etcd.io/bbolt"

// trimResident is a no-op where MADV_DONTNEED does not unmap at once.
func trimResident(tx *bolt.Tx) {}
