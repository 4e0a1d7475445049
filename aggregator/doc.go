// Package aggregator folds hits into additive counters in memory and writes
// them to a Sink in batches: on a timer, when the batch grows large, and on
// Stop. Only aggregates ever leave it: keys are (site, hour, dimension,
// value), never a person. It knows nothing of HTTP or of ClickHouse.
package aggregator
