package ingest

import (
	"tally/collector/referrer"
	"tally/collector/visits"
	"tally/counter"
)

// visitView is what a hit adds to each of its dimension rows: the hit,
// the page view, and the visit counters (collector/visits).
type visitView struct {
	rows *visitRows
	// takeBack is the path of the page the referrer names, when it is one
	// of the site's: that page was not an exit.
	takeBack string
	// starts: the page view starts a visit (visits.Entry), whose source,
	// campaign and entry page attribution remembers (journey.go).
	starts bool
}

type visitRows struct{ every, path, total counter.WebCounts }

// eventView is a custom event's: a hit in each row.
var eventView = visitView{rows: &visitRows{every: counter.WebCounts{Hits: 1}, path: counter.WebCounts{Hits: 1}, total: counter.WebCounts{Hits: 1}}}

// pageViews holds what a page view adds for every case visits.PageView
// tells apart (arrival, our tracker's Tracked and Reload flags, a script
// or not), made once: a hit only picks its case. Read-only.
var pageViews = func() (t [4][2][2][2]visitRows) {
	for a := range t {
		for tracked := range 2 {
			for reload := range 2 {
				for script := range 2 {
					h := visits.Hit{Script: script == 1}
					if tracked == 1 {
						h.Flags = visits.Tracked
					}
					if reload == 1 {
						h.Flags |= visits.Reload
					}
					v := visits.PageView(h, visits.Arrival(a))
					r := &t[a][tracked][reload][script]
					r.every = counter.WebCounts{Hits: 1, Pageviews: 1}
					r.every.Add(v.Every)
					r.path, r.total = r.every, r.every
					r.path.Add(v.Path)
					r.total.Add(v.Total)
				}
			}
		}
	}
	return t
}()

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// visitOf applies the visit rules to a page view that arrived as arr.
func visitOf(ev Event, arr referrer.Arrival) visitView {
	a := visits.Arrive(ev.Visit, arr.Internal)
	f := ev.Visit.Flags
	out := visitView{rows: &pageViews[a][bit(f&visits.Tracked != 0)][bit(f&visits.Reload != 0)][bit(ev.Visit.Script)], starts: a == visits.Entry}
	if a == visits.Step {
		out.takeBack = ev.Site.PathRules.Apply(arr.Path)
	}
	return out
}

// counts is what the row of dimension dim gets.
func (vv *visitView) counts(dim string) *counter.WebCounts {
	switch dim {
	case counter.DimPath:
		return &vv.rows.path
	case counter.DimTotal:
		return &vv.rows.total
	}
	return &vv.rows.every
}
