package privacy

import (
	"math"
	"strconv"

	"tally/dashboards/stats"
)

// The conversions (issue 13) under the same rules as every other count: a
// goal, a funnel step, a currency's revenue and the coverage counts are
// each a counted thing of their own, withheld below k and noised in shared
// views; breakdowns under a goal go through Breakdown, whose rows keep the
// goal in their values so that each (goal, value) has its own noise.

// Goal releases one goal's conversions over r and its previous period,
// by the site's measure: unique converters where visitors are recorded,
// conversions where they are not.
func (p Policy) Goal(name string, t stats.Totals, r stats.Range) stats.Totals {
	th := p.thing('w', "", stats.DimGoal, name)
	return stats.Totals{Current: p.web(th, p.nodes(r), t.Current, p.Measure), Previous: p.web(th, p.nodes(r.Previous()), t.Previous, p.Measure)}
}

// Revenue releases one goal's revenue in one currency; goal is the goal's
// released conversions. Revenue is withheld whenever its goal's
// conversions are, and when fewer than k conversions carried the
// currency (one purchase in a rare currency would show its amount).
func (p Policy) Revenue(rt stats.RevenueTotals, goal stats.Totals, r stats.Range) stats.RevenueTotals {
	th := p.thing('w', "", stats.DimRevenue, rt.Goal+stats.Sep+rt.Currency)
	out := rt
	out.Current = p.money(th, p.nodes(r), rt.Current, goal.Current.BelowK)
	out.Previous = p.money(th, p.nodes(r.Previous()), rt.Previous, goal.Previous.BelowK)
	return out
}

// money releases a revenue total: its conversions like any hit count, its
// amount with noise in units of the mean amount (the noise of k/2
// conversions of a typical size, as engaged time is noised in units of a
// typical page view), so that the total of a day with a few purchases
// cannot be told apart.
func (p Policy) money(thing []byte, ns []node, m stats.Money, goalWithheld bool) stats.Money {
	if goalWithheld {
		return stats.Money{BelowK: true}
	}
	if p.K <= 0 {
		return m
	}
	// k counts the buyers where the site counts visitors: one buyer's k
	// purchases in a rare currency stay withheld.
	c := p.web(thing, ns, stats.WebCounts{Hits: m.Conversions, Visitors: m.Visitors}, p.Measure)
	if c.BelowK {
		return stats.Money{BelowK: true}
	}
	out := stats.Money{Conversions: c.Hits, Visitors: c.Visitors, Micros: m.Micros}
	if p.Noise != nil && m.Conversions > 0 {
		unit := float64(m.Micros) / float64(m.Conversions)
		nz := p.Noise.sumBlock(thing, ns, p.K, 3)
		out.Micros = max(0, int64(math.Round(float64(m.Micros)+nz[0]*unit)))
	}
	return out
}

// FunnelStep releases the visitors who reached one step of a funnel over
// r: withheld below k, noised in shared views.
func (p Policy) FunnelStep(s stats.FunnelStep, r stats.Range) stats.FunnelStep {
	th := p.thing('w', "", stats.DimFunnel, s.Funnel+stats.Sep+strconv.Itoa(s.Step))
	return stats.FunnelStep{Funnel: s.Funnel, Step: s.Step, WebCounts: p.web(th, p.nodes(r), s.WebCounts, p.Measure)}
}

// Coverage releases the hits counted with and without the daily visitor
// hash over r (by hits: these rows have no visitors).
func (p Policy) Coverage(on, off stats.WebCounts, r stats.Range) (stats.WebCounts, stats.WebCounts) {
	ns := p.nodes(r)
	return p.web(p.thing('w', "", stats.DimUniques, "on"), ns, on, stats.MeasureHits),
		p.web(p.thing('w', "", stats.DimUniques, "off"), ns, off, stats.MeasureHits)
}
