//go:build !linux

package engine

// trimResident is a no-op where MADV_DONTNEED does not unmap at once.
func (r *register) trimResident() {}
