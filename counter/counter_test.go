package counter

import (
	"math"
	"testing"
)

// TestRevenueSaturates: forged amounts cannot wrap a row's revenue to a
// negative total in memory; other counters add as before.
func TestRevenueSaturates(t *testing.T) {
	c := WebCounts{Hits: 1, Revenue: math.MaxInt64 - 10}
	c.Add(WebCounts{Hits: 1, Revenue: 1_000_000_000_000_000})
	if c.Revenue != math.MaxInt64 || c.Hits != 2 {
		t.Fatalf("got %+v, want revenue saturated at MaxInt64 and 2 hits", c)
	}
	c.Add(WebCounts{Revenue: -5}) // a correction still subtracts
	if c.Revenue != math.MaxInt64-5 {
		t.Fatalf("revenue %d after a correction", c.Revenue)
	}
	d := WebCounts{Revenue: math.MinInt64 + 1}
	d.Add(WebCounts{Revenue: -2})
	if d.Revenue != math.MinInt64 {
		t.Fatalf("negative saturation: %d", d.Revenue)
	}
}
