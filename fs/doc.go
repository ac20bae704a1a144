// Package fs owns cabinet's read-only virtual file system: one tree of
// sessions, shared by the FUSE adapters (fs/gofuse for Linux and macOS,
// fs/cgofuse for Windows via WinFsp and, with the cgofuse build tag, Linux
// via libfuse). It has no FUSE types and no build tags; the adapters only
// translate its nodes, attributes and errors (see Errno-style mapping in
// each adapter).
//
// # Layout
//
//	<root>/<device>/files/<session time>/<backed-up absolute paths>
//	<root>/<device>/files/latest        newest "files" session
//	<root>/<device>/persona/<session time>/manifest.json ...
//	<root>/<device>/persona/latest
//
// Session time names come from snapshot.TimeNames in the viewer's time
// zone ("2026-11-21 10.30.05", " (2)" for a second session in the same
// second). latest is a symlink to the newest session's name, or, with
// Options.LatestAsDir (Windows), a directory showing that session.
//
// # Caching
//
// Everything below a session folder is immutable: its attributes carry
// Volatile == false and adapters let the kernel cache entries, attributes,
// directory listings and pages for long. The levels above (root, device,
// files, persona, latest, and each session folder itself) change when
// sessions are added or forgotten:
// they carry Volatile == true and adapters give them timeouts of about a
// second. The session list is re-read from the repository (one LIST per
// device, plus one GET per new session object) when a volatile directory is
// used and the last read is older than Options.Refresh.
//
// Directory trees are loaded lazily, one tree blob per directory, and
// kept encoded, their entries decoded on demand (snapshot.Listing), in a
// small LRU by blob ID (nodes do not hold them); attributes of a
// directory's entries come from the parent's tree, so stat never loads a
// child tree. A folder inside a session can be listed a part at a time
// (PartDir), so a folder of a million files is never held as a million
// Entries. File content is
// read lazily: the slice holding an offset is found by binary search over
// the cumulative slice sizes, decoded slices live in a byte-bounded LRU
// (Options.CacheSize) with one fetch per slice at a time (singleflight),
// and sequential reads prefetch the next slices in parallel. A waiting
// reader that is interrupted stops waiting; the shared fetch goes on.
// Reads return the cached bytes themselves (Data); an adapter releases
// them once sent, and only then can an evicted slice's buffer be reused.
//
// # Concurrency
//
// FS, its nodes and handles are safe for concurrent use. Reads take no
// lock per handle: many processes reading one or many files do not block
// each other, apart from the shared slice fetches they wait for.
//
// # Errors
//
// Lookups of missing names return an error wrapping ErrNotExist; write
// attempts ErrReadOnly; a damaged or missing slice or tree wraps
// repo.ErrDamaged or repo.ErrBlobNotFound (adapters answer EIO) and is
// logged through Options.Logf, naming the file.
//
// # Probe names
//
// Names file managers look for (.DS_Store, ._*, desktop.ini, Thumbs.db,
// autorun.inf, ... see IsProbe) are answered "not found" at the synthetic
// levels without touching the repository. Inside sessions they are looked
// up like any other name, since a backed-up desktop.ini is real data.
package fs
