package aggregator

import "tally/counter"

// WebUpdate is one web counter delta.
type WebUpdate struct {
	Dimension string
	Value     string
	Counts    counter.WebCounts
}

// AddWeb adds deltas for one site and hour under one lock, so a hit is
// counted in all its dimensions or in none. A new value of a free-text
// dimension past its quota for the hour is counted under counter.Overflow
// (see valueCap).
func (a *Aggregator) AddWeb(site string, hour int64, updates []WebUpdate) {
	a.mu.Lock()
	for _, u := range updates {
		k := counter.WebKey{Site: site, Hour: hour, Dimension: u.Dimension, Value: u.Value}
		c, ok := a.current.Web[k]
		if !ok && a.cap != nil {
			// A row in memory was admitted already: only a new row asks
			// the cap, so a steady hit costs no more than it did.
			if k = a.cap.web(k); k.Value == counter.Overflow {
				c = a.current.Web[k]
			}
		}
		c.Add(u.Counts)
		a.current.Web[k] = c
	}
	full := a.countRows() >= a.opts.FlushRows
	a.mu.Unlock()
	if full {
		a.requestFlush()
	}
}

// EmailUpdate is one email counter delta.
type EmailUpdate struct {
	Dimension string
	Value     string
	Counts    counter.EmailCounts
}

// AddEmail adds deltas for one campaign and hour under one lock.
func (a *Aggregator) AddEmail(site, campaign string, hour int64, updates []EmailUpdate) {
	a.mu.Lock()
	for _, u := range updates {
		k := counter.EmailKey{Site: site, Campaign: campaign, Hour: hour, Dimension: u.Dimension, Value: u.Value}
		c := a.current.Email[k]
		c.Add(u.Counts)
		a.current.Email[k] = c
	}
	full := a.countRows() >= a.opts.FlushRows
	a.mu.Unlock()
	if full {
		a.requestFlush()
	}
}

// Pending is the number of counter rows in memory (not yet in the journal
// or the sink), the journal chunk being replayed included. It takes no
// lock: it is read for every hit.
func (a *Aggregator) Pending() int { return int(a.rows.Load()) }

// countRows refreshes rows; called with mu held after the maps change.
func (a *Aggregator) countRows() int {
	n := a.current.Len() + a.held.Len() + a.queueRows + a.replaying
	a.rows.Store(int64(n))
	return n
}

func (a *Aggregator) requestFlush() {
	select {
	case a.kick <- struct{}{}:
	default: // a flush is already requested
	}
}
