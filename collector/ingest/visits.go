package ingest

import (
	"tally/aggregator"
	"tally/collector/referrer"
	"tally/collector/visits"
	"tally/counter"
	"tally/sites"
)

// visitView is what a page view adds to the visit counters
// (collector/visits), per dimension row.
type visitView struct {
	v visits.View
	// takeBack is the path of the page the referrer names, when it is one
	// of the site's: that page was not an exit.
	takeBack string
}

// visitOf applies the visit rules to a page view of page.
func (p *Pipeline) visitOf(ev Event, page referrer.Page) visitView {
	internal, refPath := internalReferrer(ev.Site, ev.Referrer)
	a := visits.Arrive(ev.Visit, internal)
	out := visitView{v: visits.PageView(ev.Visit, a)}
	if out.v.TakeBack {
		out.takeBack = refPath
	}
	return out
}

// add adds the view's counters to the update of one dimension row.
func (vv *visitView) add(u *aggregator.WebUpdate) {
	u.Counts.Add(vv.v.Every)
	switch u.Dimension {
	case counter.DimPath:
		u.Counts.Add(vv.v.Path)
	case counter.DimTotal:
		u.Counts.Add(vv.v.Total)
	}
}

// internalReferrer says whether ref is a page of one of the site's
// hostnames, and if so its path as a page view of it counts it (scrubbed,
// the site's path rules applied). An empty referrer, one that is not an
// http(s) URL and one of another host are external: they start a visit.
func internalReferrer(site *sites.Site, ref string) (bool, string) {
	if ref == "" {
		return false, ""
	}
	rp, err := referrer.ParsePage(ref)
	if err != nil || !site.OwnsHost(rp.Host) {
		return false, ""
	}
	return true, site.PathRules.Apply(rp.Path)
}
