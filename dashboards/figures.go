package dashboards

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/counter"
	"tally/dashboards/privacy"
	"tally/dashboards/stats"
	"tally/sites"
)

// figures answers one viewer's questions about one site: the exact stats
// queries, then the viewer's privacy policy (k, and noise for everyone but
// the admin). Every handler reads counts through it, so none can skip the
// policy.
type figures struct {
	q    *stats.Querier
	pol  privacy.Policy
	site *sites.Site
	now  time.Time
}

// figuresFor picks the policy of the request's viewer: the admin's own
// view is exact at the site's k; share links and API tokens get the shared
// k and the installation's noise.
func (d *Dashboards) figuresFor(c *fiber.Ctx) (figures, error) {
	s := scopeOf(c)
	f := figures{q: d.stats, site: s.Site, now: d.opts.Now()}
	if s.Admin {
		f.pol = privacy.Admin(s.Site)
		return f, nil
	}
	n, err := d.keys.Noise(c.UserContext())
	if err != nil {
		return figures{}, err
	}
	f.pol = privacy.Shared(s.Site, n)
	return f, nil
}

// K is the threshold this viewer's figures are folded at.
func (f figures) K() int { return f.pol.K }

// Exact reports whether this viewer's figures carry no noise.
func (f figures) Exact() bool { return f.pol.Exact() }

func (f figures) Totals(ctx context.Context, r stats.Range) (stats.Totals, error) {
	t, err := f.q.Totals(ctx, f.site.Domain, r)
	if err != nil {
		return stats.Totals{}, err
	}
	return f.pol.Totals(t, r), nil
}

func (f figures) Series(ctx context.Context, r stats.Range, iv stats.Interval, dim, value string) ([]stats.Point, error) {
	pts, err := f.q.Series(ctx, stats.SeriesQuery{Site: f.site.Domain, Range: r, Interval: iv, Location: f.site.Location,
		Dimension: dim, Value: value, K: f.pol.K, Measure: f.pol.Measure})
	if err != nil {
		return nil, err
	}
	return f.pol.Series(pts, r, iv, dim, value)
}

func (f figures) Breakdown(ctx context.Context, dim string, r stats.Range, limit int, filter string) (stats.Breakdown, error) {
	return f.BreakdownBy(ctx, dim, r, limit, filter, "")
}

// Rankings of a breakdown besides the default (visitors, or hits where k
// counts hits): by visits (entry pages, sources by visits) and by exits
// (exit pages).
const (
	byVisits = "visits"
	byExits  = "exits"
)

// BreakdownBy is Breakdown ranked, and folded at k, by visits or exits:
// a row is then listed when its visits (its exits) reach k.
func (f figures) BreakdownBy(ctx context.Context, dim string, r stats.Range, limit int, filter, by string) (stats.Breakdown, error) {
	pol := f.pol
	switch {
	case by == byVisits:
		pol.Measure = stats.MeasureVisits
	case by == byExits && dim == counter.DimPath:
		pol.Measure = stats.MeasureExits
	case by != "":
		return stats.Breakdown{}, stats.InputErrorf("by must be %q, or %q for path", byVisits, byExits)
	}
	b, err := f.q.Breakdown(ctx, stats.BreakdownQuery{Site: f.site.Domain, Dimension: dim, Range: r, Limit: limit,
		Filter: filter, K: pol.K, Measure: pol.Measure})
	if err != nil {
		return stats.Breakdown{}, err
	}
	d, _ := stats.LookupWeb(dim)
	return pol.Breakdown(b, r, d), nil
}

// AccessTimes is the hour-of-day by weekday view over r, in the site's
// zone.
func (f figures) AccessTimes(ctx context.Context, r stats.Range) ([]stats.AccessCell, error) {
	cells, err := f.q.AccessTimes(ctx, f.site.Domain, r, f.site.Location)
	if err != nil {
		return nil, err
	}
	return f.pol.AccessTimes(cells, r), nil
}

// window is a campaign's range: from its first local day (of sends, when
// reported) to now. Not to its last counter, whose hour would be when
// someone opened it.
func (f figures) window(exact stats.Campaign) stats.Range {
	first := exact.FirstSend
	if first.IsZero() {
		first = exact.First
	}
	l := first.In(f.site.Location)
	start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, f.site.Location).UTC().Truncate(time.Hour)
	end := f.now.Truncate(time.Hour).Add(time.Hour)
	if !end.After(start) {
		end = start.Add(time.Hour)
	}
	return stats.Range{Start: start, End: end}
}

// campaign is a campaign as this viewer may see it, with its window.
type campaign struct {
	stats.Campaign
	Window stats.Range
	// sent is the hour of the first reported send (zero when none was):
	// the sender's own report, where the first hours are counted from.
	sent time.Time
}

// Interval is the chart interval of the campaign's window.
func (c campaign) Interval() stats.Interval {
	if c.Window.Len() <= 48*time.Hour {
		return stats.Hourly
	}
	return stats.Daily
}

// unlisted reports whether a campaign, as released, is not shown at all:
// withheld and without sends, all it has is opens below k, and its name
// and first day would tell that someone opened it that day.
func unlisted(released, exact stats.Campaign) bool {
	return released.BelowK && exact.FirstSend.IsZero()
}

func (f figures) Campaigns(ctx context.Context, since time.Time, limit int) ([]stats.Campaign, error) {
	cs, err := f.q.Campaigns(ctx, f.site.Domain, since, limit)
	if err != nil {
		return nil, err
	}
	out := cs[:0]
	for _, c := range cs {
		if r := f.pol.Campaign(c, f.window(c)); !unlisted(r, c) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Campaign returns one campaign as this viewer may see it; ok is false for
// an unknown or unlisted one.
func (f figures) Campaign(ctx context.Context, name string, since time.Time) (campaign, bool, error) {
	c, ok, err := f.q.Campaign(ctx, f.site.Domain, name, since)
	if err != nil || !ok {
		return campaign{}, ok, err
	}
	w := f.window(c)
	r := f.pol.Campaign(c, w)
	if unlisted(r, c) {
		return campaign{}, false, nil
	}
	return campaign{Campaign: r, Window: w, sent: c.FirstSend}, true, nil
}

func (f figures) CampaignSeries(ctx context.Context, c campaign, iv stats.Interval) ([]stats.EmailPoint, error) {
	pts, err := f.q.CampaignSeries(ctx, f.site.Domain, c.Name, c.Window, iv, f.site.Location)
	if err != nil {
		return nil, err
	}
	return f.pol.CampaignSeries(c.Campaign, pts, c.Window, iv), nil
}

func (f figures) CampaignBreakdown(ctx context.Context, c campaign, dim string, since time.Time, limit int) (stats.EmailBreakdown, error) {
	b, err := f.q.CampaignBreakdown(ctx, f.site.Domain, c.Name, dim, since, limit, f.pol.K)
	if err != nil {
		return stats.EmailBreakdown{}, err
	}
	return f.pol.CampaignBreakdown(c.Campaign, b, c.Window), nil
}
