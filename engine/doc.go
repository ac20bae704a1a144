// Package engine runs cabinet's sessions: backup (scanning against the
// per-device register, then processing queued files through the slicing,
// deduplication and upload pipeline, trees, and the session object last),
// restore, and check. It is what the CLI calls; library users can call it
// too.
//
// Backups run in the two stages of the reference product: scanning walks
// the selection in parallel, compares each file's attributes (size, mtime,
// ctime, mode, inode) with the register and reuses the slice list of every
// unchanged file without reading it; processing then reads the queued files
// (most recently changed first), slices them with the keyed chunker and
// hands the slices to one worker per core, which hash, deduplicate,
// compress, encrypt and append them to cabinets.
//
// Memory follows what is still to do, not the size of the selection: the
// files to read wait in a temporary queue file (queue.go), a
// folder's tree is written as soon as its files are read and its
// sub-folders written (during scanning for folders with nothing to read),
// and its entries are freed; register entries are written in batches as
// files are found empty or read, not at the end. An entry is trusted only
// if all its slices are in the repository's index, so entries written by
// a session that then fails are harmless.
package engine
