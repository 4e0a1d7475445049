// Package metrics holds the collector's Prometheus metrics on a registry of
// its own (no global default registry), so tests and several servers in one
// process never share counters. Labels are bounded sets: outcomes and
// reasons, never a site, path or anything a client chose.
package metrics
