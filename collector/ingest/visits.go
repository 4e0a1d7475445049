package ingest

import (
	"tally/collector/referrer"
	"tally/collector/visits"
	"tally/counter"
)

// visitView is what a hit adds to each of its dimension rows: the hit,
// the page view, and the visit counters (collector/visits), made once per
// hit rather than added row by row.
type visitView struct {
	every, path, total counter.WebCounts
	// takeBack is the path of the page the referrer names, when it is one
	// of the site's: that page was not an exit.
	takeBack string
}

// eventView is a custom event's: a hit in each row.
var eventView = visitView{every: counter.WebCounts{Hits: 1}, path: counter.WebCounts{Hits: 1}, total: counter.WebCounts{Hits: 1}}

// visitOf applies the visit rules to a page view that arrived as arr.
func visitOf(ev Event, arr referrer.Arrival) visitView {
	if arr.Internal {
		arr.Path = ev.Site.PathRules.Apply(arr.Path)
	}
	v := visits.PageView(ev.Visit, visits.Arrive(ev.Visit, arr.Internal))
	out := visitView{every: counter.WebCounts{Hits: 1, Pageviews: 1}}
	out.every.Add(v.Every)
	out.path, out.total = out.every, out.every
	out.path.Add(v.Path)
	out.total.Add(v.Total)
	if v.TakeBack {
		out.takeBack = arr.Path
	}
	return out
}

// counts is what the row of dimension dim gets.
func (vv *visitView) counts(dim string) counter.WebCounts {
	switch dim {
	case counter.DimPath:
		return vv.path
	case counter.DimTotal:
		return vv.total
	}
	return vv.every
}
