// Package useragent owns what the collector keeps of a User-Agent header:
// coarse device, browser family and OS family, plus a bot verdict.
//
// The full header is never returned or stored. Versions, device models and
// build strings are fingerprinting material, so they are thrown away here,
// at the first step that sees them; only values from a fixed vocabulary leave
// the package (see the family tables in useragent.go).
//
// Parsing uses github.com/medama-io/go-useragent (a trie, sub-microsecond,
// no allocations). Bot detection ORs two signals: the CrawlerDetect pattern
// list (github.com/x-way/crawlerdetect) and a short list of
// headless/automation tokens that CrawlerDetect misses; medama's own bot
// flag is left out for its false positives on real browsers. The pattern
// list is one big regular expression costing 80-200 microseconds, so
// verdicts are cached under a seeded 64-bit hash of the header; the cache
// never holds the header itself.
//
// The choice of libraries is backed by the benchmark in tools/uabench.
package useragent
