// Package repo is cabinet's storage layer, usable as a library: it creates
// and opens repositories (config, password-wrapped keys), stores blobs
// (keyed IDs, zstd when it shrinks, AES-256-GCM) in cabinets, keeps the
// index of where every blob lives, stores sealed session objects under
// per-device folders, and caches index and tree data locally.
//
// Layout of a repository (docs/FORMAT.md has every object byte by byte):
//
//	config                     format version, repository ID, sealed parameters
//	keys/<id>                  the master key wrapped by one password
//	data/<xx>/<cabinet id>     cabinets of data and tree blobs
//	index/<id>                 which blob lives in which cabinet
//	sessions/<device>/<id>     sealed session objects
//
// Every object is immutable and named by the SHA-256 of its bytes, so many
// writers can add to one repository without a lock. Writes go through
// Repository.Write, which flushes cabinets and index files when its callback
// returns; an interrupted write leaves only unreferenced cabinets behind.
package repo
