// Package fstest holds fixtures for testing the mount: real repositories
// built from folders on disk through the repo and snapshot packages (no
// engine, no mocks), and a read-only conformance suite that any mounted
// cabinet tree must pass, run by both FUSE adapters and by the integration
// tests of the real binary.
package fstest
