package aggregator

import "tally/counter"

// valueCap bounds the distinct values of each free-text dimension
// (counter.FreeText: path, source, UTM tags, event) of each site and hour:
// once a dimension has its quota for the hour, a new value is counted
// under counter.Overflow. One client sending random paths, UTM tags,
// referrers or event names then adds at most the quota of rows per
// dimension and hour, however many it sends, and the counts stay whole:
// the overflow row carries them. Totals and the closed-set dimensions
// (country, region, device, browser, OS, consent, filtered, and every
// email dimension) are not capped: no client can make up their values,
// and a busy site may genuinely see more than a thousand regions in an
// hour.
//
// It is exact within one process: checked and updated under the
// aggregator's lock, in the same step that adds the row. It remembers the
// newest hour and the one before (a hit read the clock just before the
// hour turned); a value for an older hour that is not already a row in
// memory goes to the overflow, so a clock stepped back cannot open a
// second quota. It holds only keys of counter rows, which are aggregates;
// it is forgotten an hour after its hour.
//
// Guarded by Aggregator.mu.
type valueCap struct {
	max    int
	newest int64 // the newest hour seen

	seen  map[counter.WebKey]struct{} // admitted values
	count map[counter.WebKey]int      // per key with Value "": admitted values

	folded uint64 // updates counted under the overflow
}

func newValueCap(max int) *valueCap {
	return &valueCap{max: max, seen: map[counter.WebKey]struct{}{}, count: map[counter.WebKey]int{}}
}

// advance moves the window to hour and forgets what is older than the hour
// before it. It reports whether hour is inside the window.
func (c *valueCap) advance(hour int64) bool {
	if hour > c.newest {
		c.newest = hour
		for k := range c.count {
			if k.Hour < hour-3600 {
				delete(c.count, k)
			}
		}
		for k := range c.seen {
			if k.Hour < hour-3600 {
				delete(c.seen, k)
			}
		}
	}
	return hour >= c.newest-3600
}

// web returns k, or k's overflow key when k's value is new and its
// dimension has no room left this hour. The caller has checked that k is
// not a row in memory (such a value was admitted already).
func (c *valueCap) web(k counter.WebKey) counter.WebKey {
	if !counter.FreeText(k.Dimension) || k.Value == counter.Overflow {
		return k
	}
	if _, ok := c.seen[k]; ok {
		return k
	}
	dim := k
	dim.Value = ""
	if c.advance(k.Hour) && c.count[dim] < c.max {
		c.count[dim]++
		c.seen[k] = struct{}{}
		return k
	}
	c.folded++
	k.Value = counter.Overflow
	return k
}
