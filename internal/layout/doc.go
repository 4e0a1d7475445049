// Package layout holds no code: its test keeps the house layout, where
// every import arrow points down. It fails when pixel stops being a leaf
// (anything of this module, or an HTTP framework) or when the dashboards
// reach into the collector or the aggregator instead of the shared leaves
// (sites, counter).
package layout
