package ingest

import (
	"tally/aggregator"
	"tally/collector/consent"
	"tally/collector/referrer"
	"tally/collector/uniques"
	"tally/collector/visits"
	"tally/counter"
	"tally/sites"
)

// EngagementName is the event name of an engagement report (Plausible's).
// Such an event is never a page view nor a custom event.
const EngagementName = "engagement"

// Engagement is one engagement report of a page: Plausible's "engagement"
// event, or our tracker's, which adds flags (collector/visits). URL and
// Referrer must belong to the caller, as in Event.
type Engagement struct {
	Site     *sites.Site
	URL      string // the page reported on
	Referrer string // its referrer (our tracker sends it; Plausible's does not)
	Consent  consent.Signals
	Report   visits.Report // validated: see visits.ParseScroll, ParseEngagedMS
	// Automated: as in Event.
	Automated bool
	// Hash: as in Event, so that the report names its page view's path.
	Hash bool
}

// Engagement adds a report's engaged time and scroll depth to the page's
// path row and the total row, and applies our tracker's corrections
// (visits.Engage). It passes the same consent gate and bot filter as a page
// view, but records nothing where they stop it: a report is not a hit (no
// consent or filtered row, so the consent rate counts page views and
// events only). An error means nothing was counted.
func (p *Pipeline) Engagement(e Engagement, c Client) (Outcome, error) {
	if err := p.overRows(); err != nil {
		return "", err
	}
	if e.Report.Empty() {
		return "", visits.ErrEmptyEngagement
	}
	page, err := referrer.ParsePage(e.URL)
	if err != nil {
		return "", err
	}
	if !e.Site.OwnsHost(page.Host) {
		return "", ErrForeignHost
	}
	if e.Hash {
		page.Path = referrer.WithFragment(e.URL, page.Path)
	}
	page.Path = e.Site.PathRules.Apply(page.Path)

	sig := e.Consent
	sig.GPC, sig.DNT = c.GPC, c.DNT
	if !consent.Decide(e.Site.Mode, sig).Counters {
		return ConsentOnly, nil
	}
	agent := p.opts.Agents.Classify(c.UserAgent)
	if p.filterReason(agent, Event{Referrer: e.Referrer, Automated: e.Automated}, c) != "" {
		return Filtered, nil
	}
	arr := p.sources.Arrive(page, e.Referrer, e.Site.OwnsHost)
	eng := visits.Engage(e.Report, !arr.Internal)

	hour := counter.HourOf(p.opts.Now())
	if !eng.UnBounce {
		p.opts.Aggregator.AddWeb(e.Site.Domain, hour, []aggregator.WebUpdate{
			{Dimension: counter.DimTotal, Counts: eng.Total},
			{Dimension: counter.DimPath, Value: page.Path, Counts: eng.Path},
		})
		return Counted, nil
	}
	// The entry page was left for another page of the site: the bounce its
	// page view assumed is taken back in each of that page view's rows.
	var pairs [pageDimensions]uniques.Pair
	p.pageDims(&pairs, page, arr, agent, c)
	var updates [pageDimensions]aggregator.WebUpdate
	for i, pr := range pairs {
		u := aggregator.WebUpdate{Dimension: pr.Dimension, Value: pr.Value, Counts: counter.WebCounts{Bounces: -1}}
		switch pr.Dimension {
		case counter.DimTotal:
			u.Counts.Add(eng.Total)
		case counter.DimPath:
			u.Counts.Add(eng.Path)
		}
		updates[i] = u
	}
	p.opts.Aggregator.AddWeb(e.Site.Domain, hour, updates[:])
	return Counted, nil
}
