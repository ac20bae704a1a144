// Package persona captures and applies a user's system and application
// settings (a "persona"): the catalog of what to capture per OS, capture
// into a plain folder, compatibility rules, apply with undo, and the
// remapping of home paths and user names. It works on plain directories
// and imports neither the engine nor the repository: the engine backs the
// capture folder up as a session with data source "persona", and restores
// a persona session into a folder that Apply reads (or Apply reads a
// mounted MOUNT/<device>/persona/<session time>/ directly).
//
// # Catalog
//
// Entries are declarative JSON (catalog/windows.json, macos.json,
// linux.json, embedded with go:embed), one per application or OS area,
// with ID "<os>/<name>". Users and admins add or replace entries with
// their own files: every *.json in DefaultCatalogDir(os.UserConfigDir())
// and each --catalog FILE (LoadCatalog). Unknown fields are refused, and
// no path of an entry may leave the home (ErrEscapesHome) unless its base
// is "system" (absolute, root only).
//
// # Persona folder layout (format 1)
//
//	manifest.json                       Manifest, indented JSON
//	files/<os>/<name>/home/<path>        a file of the home, <path> relative to it
//	files/<os>/<name>/system/<path>      a system file (/etc/..., /Library/...)
//	exports/<os>/<name>/<n>-<kind>.<ext> native export n of the entry:
//	                                    .reg (reg export, UTF-16LE with BOM),
//	                                    .plist (defaults export, XML),
//	                                    .ini (dconf dump), .json (CUPS queues),
//	                                    .fstab (network mount lines)
//
// Paths inside the manifest are slash-separated. A file record also keeps
// the file's portable extended attributes (user.* on Linux, com.apple.*
// on macOS). Mozilla profiles that profiles.ini places elsewhere in the
// home are captured through rules added to the manifest's copy of the
// entry. Files are copied, never
// linked (a symbolic link to a file is captured as the file; links to
// folders are not followed; a link of the home, or a folder leading to a
// rule's path, is followed only when it resolves inside the home, and
// otherwise is noted as a problem of its entry and not captured). Every file record carries its mode, time,
// size and SHA-256; Apply verifies all of them before it writes anything
// (ErrMissingFile). Machine-bound secrets (Chrome/DPAPI logins, keyrings,
// Internet Accounts tokens) are never copied; they are listed per entry
// as "not portable" with the reason.
//
// Format history: 1 (first version). A reader refuses a newer format with
// ErrNewerFormat naming both versions.
//
// # Apply
//
// Apply checks compatibility first (CheckCompatibility: the rules of the
// PERSONA.md table; an *IncompatibleError names each broken rule), then
// plans every selected entry, and only then writes. Before a file is
// overwritten its old content, mode and time go into an undo set
// (<UndoDir>/<time>/journal.jsonl plus saved/), written ahead of each
// change; Undo replays it backwards. An undo set lives in the user's home
// and is not trusted: a persona file is never written into the undo folder,
// and Undo refuses a set made for another home and any record that would
// touch a path outside the home (unless this device's catalog names that
// system file), go through a symbolic link out of the home, or read a saved
// copy outside the set (ErrUntrustedUndo). Files already identical in content
// and mode are left alone, so a second apply changes nothing and creates
// no undo set. Text settings files are remapped (Remapper): the source
// home and user name become the target's; binary files are copied as they
// are. Entries whose application is running are skipped with a warning.
//
// A persona folder is input, not trusted code: its manifest is validated
// (format version, every path inside the home or its entry's rule paths,
// every stored file inside files/ or exports/, registry keys under HKCU
// only, no commands), and files outside the home (NetworkManager, autofs,
// macOS network preferences) and native exports (system-wide defaults
// domains, CUPS queues, fstab lines, and the rest) are applied only when
// this device's catalog has an entry with the same ID naming them.
//
// # Platform code
//
// OS detection and process listing live in osinfo_<goos>.go, one
// signature on every platform; the parsers they use are plain functions
// tested on every platform. External tools run through a Runner.
package persona
