package aggregator

import "tally/counter"

// valueCap bounds the distinct values of each (site, hour, dimension), and
// of each (site, campaign, hour, dimension) for email: once a dimension
// has its quota for the hour, a new value is counted under
// counter.Overflow. One client sending random paths, UTM tags or event
// names then adds at most the quota of rows per dimension and hour,
// however many it sends, and the counts stay whole: the overflow row
// carries them. Totals (counter.DimTotal) are never capped.
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

	webSeen   map[counter.WebKey]struct{} // admitted values
	webCount  map[counter.WebKey]int      // per key with Value "": admitted values
	mailSeen  map[counter.EmailKey]struct{}
	mailCount map[counter.EmailKey]int

	folded uint64 // updates counted under the overflow
}

func newValueCap(max int) *valueCap {
	return &valueCap{
		max:     max,
		webSeen: map[counter.WebKey]struct{}{}, webCount: map[counter.WebKey]int{},
		mailSeen: map[counter.EmailKey]struct{}{}, mailCount: map[counter.EmailKey]int{},
	}
}

// advance moves the window to hour and forgets what is older than the hour
// before it. It reports whether hour is inside the window.
func (c *valueCap) advance(hour int64) bool {
	if hour > c.newest {
		c.newest = hour
		for k := range c.webCount {
			if k.Hour < hour-3600 {
				delete(c.webCount, k)
			}
		}
		for k := range c.webSeen {
			if k.Hour < hour-3600 {
				delete(c.webSeen, k)
			}
		}
		for k := range c.mailCount {
			if k.Hour < hour-3600 {
				delete(c.mailCount, k)
			}
		}
		for k := range c.mailSeen {
			if k.Hour < hour-3600 {
				delete(c.mailSeen, k)
			}
		}
	}
	return hour >= c.newest-3600
}

// web returns k, or k's overflow key when k's value is new and its
// dimension has no room left this hour. The caller has checked that k is
// not a row in memory (such a value was admitted already).
func (c *valueCap) web(k counter.WebKey) counter.WebKey {
	if k.Dimension == counter.DimTotal || k.Value == counter.Overflow {
		return k
	}
	if _, ok := c.webSeen[k]; ok {
		return k
	}
	dim := k
	dim.Value = ""
	if c.advance(k.Hour) && c.webCount[dim] < c.max {
		c.webCount[dim]++
		c.webSeen[k] = struct{}{}
		return k
	}
	c.folded++
	k.Value = counter.Overflow
	return k
}

// email is web for email rows.
func (c *valueCap) email(k counter.EmailKey) counter.EmailKey {
	if k.Dimension == counter.DimTotal || k.Value == counter.Overflow {
		return k
	}
	if _, ok := c.mailSeen[k]; ok {
		return k
	}
	dim := k
	dim.Value = ""
	if c.advance(k.Hour) && c.mailCount[dim] < c.max {
		c.mailCount[dim]++
		c.mailSeen[k] = struct{}{}
		return k
	}
	c.folded++
	k.Value = counter.Overflow
	return k
}
