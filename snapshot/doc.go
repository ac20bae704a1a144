// Package snapshot owns cabinet's data model: sessions (one data source,
// one device, one point in time), trees (one blob per directory, encoded
// deterministically so an unchanged directory keeps its ID) and the nodes
// in them, their encodings (docs/FORMAT.md, "Tree" and "Session"), and
// reading and writing them through a repo.Repository.
package snapshot
