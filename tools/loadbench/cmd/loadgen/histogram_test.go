package main

import (
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<20; v++ {
		b := bucketOf(v)
		if b != prev && b != prev+1 {
			t.Fatalf("bucket jumps from %d to %d at %d", prev, b, v)
		}
		if lowerBound(b) > v || (b+1 < len(histogram{}.counts) && lowerBound(b+1) <= v) {
			t.Fatalf("value %d outside bucket %d [%d, %d)", v, b, lowerBound(b), lowerBound(b+1))
		}
		prev = b
	}
	if b := bucketOf(1<<63 + 12345); b >= len(histogram{}.counts) {
		t.Fatalf("largest value falls outside the table: %d", b)
	}
}

func TestQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10000 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d > 0.01 || d < -0.01 {
			t.Errorf("q%v = %v, want %v within 1%%", c.q, got, c.want)
		}
	}
}
