// Package counter is the vocabulary shared by the side that counts and the
// side that reads: the dimensions, the keys of a counter row, its additive
// counts and the hour buckets. It is a leaf: the collector, the aggregator,
// the ClickHouse sink and the dashboards all import it, and it imports
// nothing of theirs.
package counter
