package ingest

import (
	"tally/collector/referrer"
	"tally/collector/visits"
	"tally/counter"
	"tally/sites"
)

// OptionsOf is p's options after New filled the defaults.
func OptionsOf(p *Pipeline) Options { return p.opts }

// VisitRows is what a page view of h adds to its other, path and total
// rows.
func VisitRows(h visits.Hit, internal bool) [3]counter.WebCounts {
	v := visitOf(Event{Visit: h, Site: &sites.Site{}}, referrer.Arrival{Internal: internal})
	return [3]counter.WebCounts{*v.counts(""), *v.counts(counter.DimPath), *v.counts(counter.DimTotal)}
}
