// Package spool is the aggregator's journal on disk: counter deltas (never
// raw hits) in numbered segment files, each written to a temporary file,
// fsynced and renamed into place, so a crash leaves either the whole
// segment or none of it. The aggregator appends a segment every sync
// interval and removes it once ClickHouse has stored it; whatever is on disk
// at start-up is replayed first.
//
// A segment is "sealed" once the aggregator is about to send it: it keeps
// its identity (and so its deduplication token) until it is stored, is
// never merged into another segment, and records in its file name how far
// each table's write got (so that a write started before a crash is known
// as such after it, and a stored one is never sent again).
//
// The directory is the spool's own: it is locked (flock) against a second
// process; files it does not know are left alone, and only its own
// temporary files are deleted; a damaged segment is renamed *.corrupt and
// the spool opens without it.
package spool
