package privacy

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	"tally/counter"
	"tally/dashboards/stats"
	"tally/sites"
)

// Policy is what one viewer may see of one site.
type Policy struct {
	// K is the small-count threshold: a count below it is withheld
	// (folded into "(other)", or marked BelowK with its numbers zeroed).
	// 0 withholds nothing.
	K int
	// Measure is what k counts in web rows.
	Measure stats.Measure
	// Noise adds the fixed seeded noise to every count; nil shows exact
	// counts (the admin's own view only).
	Noise *Noise
	// Site and Location name the counted things and cut ranges into the
	// site's local days.
	Site     string
	Location *time.Location
}

// Admin is the policy of the admin's own view: the site's k, exact counts.
func Admin(s *sites.Site) Policy {
	return Policy{K: s.MinCountK, Measure: MeasureOf(s), Site: s.Domain, Location: s.Location}
}

// Shared is the policy of every other output (share links, API tokens):
// the site's shared k and the installation's noise.
func Shared(s *sites.Site, n *Noise) Policy {
	return Policy{K: s.SharedK(), Measure: MeasureOf(s), Noise: n, Site: s.Domain, Location: s.Location}
}

// MeasureOf is what k counts on a site: visitors where counted hits carry
// a visitor hash (strict mode, consent given; optout mode, consent
// assumed unless withdrawn), hits where most do not (anonymous mode
// records no visitor without consent, and counting its zero visitors would
// fold every row).
func MeasureOf(s *sites.Site) stats.Measure {
	if s.Mode == sites.ModeAnonymous {
		return stats.MeasureHits
	}
	return stats.MeasureVisitors
}

// Exact reports whether counts are shown without noise.
func (p Policy) Exact() bool { return p.Noise == nil || p.K <= 0 }

// otherValue names the "(other)" row of a dimension in noise draws; the NUL
// keeps it apart from any stored value.
const otherValue = "\x00" + stats.OtherValue

// thing identifies a counted thing for its noise draws.
func (p Policy) thing(table byte, campaign, dim, value string) []byte {
	b := make([]byte, 0, len(p.Site)+len(campaign)+len(dim)+len(value)+5)
	b = append(b, table, 0)
	b = append(b, p.Site...)
	b = append(b, 0)
	b = append(b, campaign...)
	b = append(b, 0)
	b = append(b, dim...)
	b = append(b, 0)
	return append(b, value...)
}

func noisy(exact int64, noise float64) int64 {
	return max(0, int64(math.Round(float64(exact)+noise)))
}

// nodes cuts r into its noise nodes (none for an exact policy).
func (p Policy) nodes(r stats.Range) []node {
	if p.Exact() {
		return nil
	}
	return decompose(r, p.Location)
}

// web releases c, the exact counts of thing over the range cut into ns:
// withheld when its measure is below k, exact or noisy, and withheld again
// when the noisy measure falls below k (so whether a value is listed near
// k depends on the noise too, not on the exact count alone). In a row that
// is shown, each visit counter is a count of its own: below k (exact or
// noisy) it is withheld alone (see visits).
func (p Policy) web(thing []byte, ns []node, c stats.WebCounts, m stats.Measure) stats.WebCounts {
	if p.K <= 0 {
		return c
	}
	if m.Of(c) < int64(p.K) {
		return stats.WebCounts{BelowK: true}
	}
	out := c
	if p.Noise != nil {
		nz := p.Noise.sum(thing, ns, p.K)
		out = stats.WebCounts{Hits: noisy(c.Hits, nz[0]), Pageviews: noisy(c.Pageviews, nz[1]), Visitors: noisy(c.Visitors, nz[2])}
		p.noisyVisits(&out, thing, ns, c)
		mv := m.Of(out)
		if (m == stats.MeasureVisitors && c.Visitors <= 0) || m == stats.MeasureHits {
			mv = out.Hits
		}
		if mv < int64(p.K) {
			return stats.WebCounts{BelowK: true}
		}
	}
	p.withholdVisits(&out, c)
	return out
}

// Sums are noised in units of what one page view adds at most in common
// use: the noise on a row's engaged time is that of k/2 page views of 30 s,
// on its scroll depth that of k/2 page views scrolled half way. A mean
// over many page views barely moves; one over a few cannot be undone.
const (
	engagedUnit = 30_000 // milliseconds
	scrollUnit  = 50     // percent
)

// noisyVisits sets out's visit counters to c's with their noise, drawn
// from two blocks of their own.
func (p Policy) noisyVisits(out *stats.WebCounts, thing []byte, ns []node, c stats.WebCounts) {
	a := p.Noise.sumBlock(thing, ns, p.K, 1)
	b := p.Noise.sumBlock(thing, ns, p.K, 2)
	out.Visits, out.TrackedVisits, out.Bounces, out.Exits = noisy(c.Visits, a[0]), noisy(c.TrackedVisits, a[1]), noisy(c.Bounces, a[2]), noisy(c.Exits, a[3])
	out.EngagedViews, out.ScrollViews = noisy(c.EngagedViews, b[0]), noisy(c.ScrollViews, b[1])
	out.EngagedMS, out.ScrollSum = noisy(c.EngagedMS, b[2]*engagedUnit), noisy(c.ScrollSum, b[3]*scrollUnit)
}

// withholdVisits withholds each visit counter of out whose exact count (in
// exact) or released count is below k, with the sum that goes with it.
func (p Policy) withholdVisits(out *stats.WebCounts, exact stats.WebCounts) {
	ex := exact.Counts()
	for i, f := range out.Counts() {
		if *ex[i].Count < int64(p.K) || *f.Count < int64(p.K) {
			*f.Count = 0
			if f.Sum != nil {
				*f.Sum = 0
			}
			out.Withheld |= f.Field
		}
	}
}

// Totals releases a site's totals over r and its previous period.
func (p Policy) Totals(t stats.Totals, r stats.Range) stats.Totals {
	th := p.thing('w', "", counter.DimTotal, "")
	return stats.Totals{Current: p.web(th, p.nodes(r), t.Current, p.Measure), Previous: p.web(th, p.nodes(r.Previous()), t.Previous, p.Measure)}
}

// Series releases a series over r: every bucket below k is withheld, so an
// hour of one visitor never shows. The series of one value (dim and value
// set) is refused when the value itself is withheld over r, as it is in
// breakdowns.
func (p Policy) Series(pts []stats.Point, r stats.Range, iv stats.Interval, dim, value string) ([]stats.Point, error) {
	m := p.Measure
	th := p.thing('w', "", counter.DimTotal, "")
	if dim != "" {
		d, _ := stats.LookupWeb(dim)
		m = m.For(d)
		th = p.thing('w', "", dim, value)
		var sum stats.WebCounts
		for _, pt := range pts {
			sum.Add(pt.WebCounts)
		}
		if p.web(th, p.nodes(r), sum, m).BelowK {
			return nil, stats.InputErrorf("%s %q counts fewer than %d in this range and is folded into %s", dim, value, p.K, stats.OtherValue)
		}
	}
	out := make([]stats.Point, len(pts))
	for i, pt := range pts {
		b := bucket(pts, i, r, iv, func(pt stats.Point) time.Time { return pt.Start })
		out[i] = stats.Point{Start: pt.Start, WebCounts: p.web(th, p.nodes(b), pt.WebCounts, m)}
	}
	return out, nil
}

// bucket is the range of bucket i of a series over r.
func bucket[P any](pts []P, i int, r stats.Range, iv stats.Interval, start func(P) time.Time) stats.Range {
	// Local midnights are rounded down to the hour, as ranges are, so
	// that a whole day is the same node in a series and in a range.
	b := stats.Range{Start: start(pts[i]).UTC().Truncate(time.Hour), End: r.End}
	if iv == stats.Hourly {
		b.End = b.Start.Add(time.Hour)
	} else if i+1 < len(pts) {
		b.End = start(pts[i+1]).UTC().Truncate(time.Hour)
	}
	if b.Start.Before(r.Start) {
		b.Start = r.Start
	}
	if b.End.After(r.End) {
		b.End = r.End
	}
	return b
}

// Breakdown releases the top values of dimension d over r (already folded
// at k by the query). With noise, values whose noisy measure falls below k
// are dropped too, the rows are ranked by their noisy measure, and the
// number of folded values is not told.
func (p Policy) Breakdown(b stats.Breakdown, r stats.Range, d stats.Dimension) stats.Breakdown {
	if p.Exact() {
		return b
	}
	m := p.Measure.For(d)
	ns := p.nodes(r)
	out := stats.Breakdown{Dimension: b.Dimension, Rows: make([]stats.Row, 0, len(b.Rows)), K: b.K}
	for _, row := range b.Rows {
		c := p.web(p.thing('w', "", d.Name, row.Value), ns, row.WebCounts, m)
		if !c.BelowK {
			out.Rows = append(out.Rows, stats.Row{Value: row.Value, WebCounts: c})
		}
	}
	slices.SortStableFunc(out.Rows, func(a, b stats.Row) int {
		return cmp.Or(cmp.Compare(m.Of(b.WebCounts), m.Of(a.WebCounts)), cmp.Compare(b.Pageviews, a.Pageviews), cmp.Compare(a.Value, b.Value))
	})
	if b.Other != nil {
		if c := p.web(p.thing('w', "", d.Name, otherValue), ns, b.Other.WebCounts, m); !c.BelowK {
			out.Other = &stats.Row{Value: stats.OtherValue, WebCounts: c}
		}
	}
	return out
}

// AccessTimes releases the hour-of-day by weekday cells over r: each cell
// is a count of its own, withheld below k and noised like a range's total.
func (p Policy) AccessTimes(cells []stats.AccessCell, r stats.Range) []stats.AccessCell {
	ns := p.nodes(r)
	out := make([]stats.AccessCell, len(cells))
	for i, c := range cells {
		th := p.thing('w', "", "access", c.Weekday.String()+" "+strconv.Itoa(c.Hour))
		out[i] = stats.AccessCell{Weekday: c.Weekday, Hour: c.Hour, WebCounts: p.web(th, ns, c.WebCounts, p.Measure)}
	}
	return out
}

// email releases the counts of thing over r, a campaign's total or one
// bucket of it; Sent, the sender's own report, is never withheld. Below k
// opens (exact, or noisy) nothing but Sent is shown; above, the clicks
// and the machine counts are each withheld on their own below k (see
// groups).
func (p Policy) email(thing []byte, ns []node, c stats.EmailCounts) stats.EmailCounts {
	if p.K <= 0 {
		return c
	}
	withheld := stats.EmailCounts{Sent: c.Sent, BelowK: true, ClicksBelowK: true, MachineBelowK: true}
	if c.OpenMeasure() < int64(p.K) {
		return withheld
	}
	out := p.groups(thing, ns, c)
	if out.BelowK {
		return withheld
	}
	return out
}

// Campaign releases a campaign's totals over its window (its first local
// day to now). A campaign sent to fewer than k recipients, or opened by
// fewer than k, shows no opens at all: not in totals, series or breakdowns.
// Hours are never shown when k applies, only the day of the first send:
// the last hour with a counter would be the hour someone opened it.
func (p Policy) Campaign(c stats.Campaign, window stats.Range) stats.Campaign {
	if p.K <= 0 {
		return c
	}
	out := c
	if c.Sent < int64(p.K) {
		out.EmailCounts = stats.EmailCounts{Sent: c.Sent, BelowK: true, ClicksBelowK: true, MachineBelowK: true}
	} else {
		out.EmailCounts = p.email(p.thing('e', c.Name, counter.DimTotal, ""), p.nodes(window), c.EmailCounts)
	}
	out.OpenRate, out.Rates = releasedRates(out.EmailCounts)
	first := c.FirstSend
	if first.IsZero() {
		first = c.First
	}
	out.First = containing(first, p.loc()).midnight(p.loc())
	out.Last, out.FirstSend = time.Time{}, time.Time{}
	return out
}

func (p Policy) loc() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// CampaignSeries releases the series of a campaign c (as released by
// Campaign) over r.
func (p Policy) CampaignSeries(c stats.Campaign, pts []stats.EmailPoint, r stats.Range, iv stats.Interval) []stats.EmailPoint {
	out := make([]stats.EmailPoint, len(pts))
	th := p.thing('e', c.Name, counter.DimTotal, "")
	for i, pt := range pts {
		out[i].Start = pt.Start
		if c.BelowK {
			out[i].EmailCounts = stats.EmailCounts{Sent: pt.Sent, BelowK: true, ClicksBelowK: true, MachineBelowK: true}
			continue
		}
		b := bucket(pts, i, r, iv, func(pt stats.EmailPoint) time.Time { return pt.Start })
		out[i].EmailCounts = p.email(th, p.nodes(b), pt.EmailCounts)
	}
	return out
}

// CampaignBreakdown releases a breakdown of campaign c (as released by
// Campaign) over its window: nothing when the campaign is withheld.
func (p Policy) CampaignBreakdown(c stats.Campaign, b stats.EmailBreakdown, window stats.Range) stats.EmailBreakdown {
	if p.K <= 0 {
		return b
	}
	if c.BelowK {
		return stats.EmailBreakdown{Dimension: b.Dimension, Rows: []stats.EmailRow{}, K: b.K}
	}
	if p.Exact() {
		return b
	}
	ns := p.nodes(window)
	out := stats.EmailBreakdown{Dimension: b.Dimension, Rows: make([]stats.EmailRow, 0, len(b.Rows)), K: b.K}
	for _, row := range b.Rows {
		if e, ok := p.emailRow(b.Dimension, p.thing('e', c.Name, b.Dimension, row.Value), ns, row.EmailCounts); ok {
			out.Rows = append(out.Rows, stats.EmailRow{Value: row.Value, EmailCounts: e})
		}
	}
	slices.SortStableFunc(out.Rows, func(a, x stats.EmailRow) int {
		return cmp.Or(cmp.Compare(stats.EmailMeasure(b.Dimension, x.EmailCounts), stats.EmailMeasure(b.Dimension, a.EmailCounts)),
			cmp.Compare(x.Opens+x.Clicks, a.Opens+a.Clicks), cmp.Compare(a.Value, x.Value))
	})
	if b.Other != nil {
		if e, ok := p.emailRow(b.Dimension, p.thing('e', c.Name, b.Dimension, otherValue), ns, b.Other.EmailCounts); ok {
			out.Other = &stats.EmailRow{Value: stats.OtherValue, EmailCounts: e}
		}
	}
	return out
}
