// Package referrer turns a page URL and a referrer into the coarse dimensions
// the collector counts: path (never the query string), source and UTM tags,
// each already scrubbed (package scrub) so that no value names anyone.
// Sources keeps the cache of recent referrer hosts; the pipeline holds one
// as a field.
package referrer
