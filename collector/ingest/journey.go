package ingest

import (
	"strconv"
	"time"

	"tally/aggregator"
	"tally/collector/journey"
	"tally/collector/uniques"
	"tally/counter"
	"tally/goals"
	"tally/sites"
)

// DefaultMaxJourneys bounds the day's visitors with attribution and funnel
// state: 52 to 84 bytes each (collector/journey), about 170 MB.
const DefaultMaxJourneys = 2_000_000

// funnelSteps are the "\tk" suffixes of funnel rows, made once.
var funnelSteps = func() (s [goals.MaxSteps + 1]string) {
	for k := range s {
		s[k] = counter.ValueSep + strconv.Itoa(k)
	}
	return s
}()

// journey adds a hit's attribution and funnel rows, for a visitor whose
// daily key the consent decision allowed (vis is the zero Visitor
// otherwise: nothing is recorded, no state is made) on a site that
// declares goals or funnels. m are the goals the hit converts (indexes in
// set.Goals, matched once by Event); pairs are the hit's rows as Event
// made them (pageDims for a page view, the event's name otherwise). A page view that
// starts a visit sets the visit's source, campaign and entry page; a hit
// that converts adds one row per goal and attribution dimension; a hit
// that reaches a funnel step adds that step's row, once a visitor a day.
//
// The rows go to the aggregator in a call of their own, just before the
// hit's: nothing can fail between the two, so a hit is never counted
// without them, nor they without it. Only a hit that converts or
// reaches a step allocates (its rows' values).
func (p *Pipeline) journey(set *goals.Set, m []int, site *sites.Site, now time.Time, hour int64, vis uniques.Visitor, name string, view *visitView, pairs []uniques.Pair) {
	key := vis.Key()
	if key == 0 || set == nil || len(set.Goals) == 0 && len(set.Funnels) == 0 {
		return
	}
	h := journey.Hit{Key: key, Goal: goals.Hit{Event: name}}
	if name == PageviewName {
		for i := range pairs {
			switch pairs[i].Dimension {
			case counter.DimPath:
				h.Goal.Path, h.Entry = pairs[i].Value, pairs[i].Value
			case counter.DimSource:
				h.Source = pairs[i].Value
			case counter.DimUTMCampaign:
				h.Campaign = pairs[i].Value
			}
		}
		h.Start = view.starts
	}
	var r journey.Result
	p.opts.Journeys.Record(now, site.Domain, p.journeyShare, set.Funnels, &h, &r)

	var buf [3*4 + goals.MaxFunnels]uniques.Pair // a few conversions on the stack
	rows := buf[:0]
	for _, g := range m {
		goal := set.Goals[g].Name
		rows = append(rows,
			uniques.Pair{Dimension: counter.DimGoalSource, Value: goal + counter.ValueSep + r.Source},
			uniques.Pair{Dimension: counter.DimGoalCampaign, Value: goal + counter.ValueSep + r.Campaign},
			uniques.Pair{Dimension: counter.DimGoalEntry, Value: goal + counter.ValueSep + r.Entry})
	}
	conversions := len(rows)
	for f, k := range r.Reached {
		if k != 0 && f < len(set.Funnels) {
			rows = append(rows, uniques.Pair{Dimension: counter.DimFunnel, Value: set.Funnels[f].Name + funnelSteps[k]})
		}
	}
	if len(rows) == 0 {
		return
	}
	// The day's pairs say whether this visitor counted in a row before:
	// they cross a graceful restart (uniques' handover), which the
	// journeys do not, so a visitor who walks a funnel again after a
	// restart is not counted twice.
	p.opts.Visitors.FirstTodayAll(vis, rows)
	var ubuf [len(buf)]aggregator.WebUpdate
	updates := ubuf[:0]
	for i := range rows {
		u := aggregator.WebUpdate{Dimension: rows[i].Dimension, Value: rows[i].Value}
		if rows[i].First {
			u.Counts.Visitors = 1
		}
		if i < conversions {
			u.Counts.Hits = 1
		} else if rows[i].First {
			u.Counts.Hits = 1 // a funnel row: visitors who reached the step
		} else {
			continue
		}
		updates = append(updates, u)
	}
	if len(updates) > 0 {
		p.opts.Aggregator.AddWeb(site.Domain, hour, updates)
	}
}
