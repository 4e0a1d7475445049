package main

import (
	"math/bits"
	"time"
)

// histogram records durations in nanoseconds in log-linear buckets: exact
// below 256 ns, then 128 buckets per power of two (relative error < 0.8%),
// the layout of an HDR histogram with two significant digits. Fixed size,
// no allocation per record; one per worker, merged at the end.
type histogram struct {
	counts [64 * 128]uint64
	n      uint64
	max    uint64
}

func bucketOf(v uint64) int {
	if v < 256 {
		return int(v)
	}
	e := bits.Len64(v) - 8 // v>>e is in [128, 256)
	return e*128 + int(v>>e)
}

// lowerBound is the smallest value that falls in bucket i.
func lowerBound(i int) uint64 {
	if i < 256 {
		return uint64(i)
	}
	e := i/128 - 1
	return uint64(i%128+128) << e
}

func (h *histogram) record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the value at quantile q (0..1): the middle of the bucket
// holding the ceil(q*n)-th smallest value, capped by the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo := lowerBound(i)
			hi := lowerBound(i + 1)
			mid := lo + (hi-lo)/2
			if mid > h.max {
				mid = h.max
			}
			return time.Duration(mid)
		}
	}
	return time.Duration(h.max)
}
