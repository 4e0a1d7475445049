package stats

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"tally/counter"
)

// The conversion dimensions of issue 13, as counter names them (values
// that join parts use a tab between them).
const (
	DimProp         = counter.DimProp
	DimGoal         = counter.DimGoal
	DimGoalProp     = counter.DimGoalProp
	DimRevenue      = counter.DimRevenue
	DimGoalSource   = counter.DimGoalSource
	DimGoalCampaign = counter.DimGoalCampaign
	DimGoalEntry    = counter.DimGoalEntry
	DimFunnel       = counter.DimFunnel
	DimUniques      = counter.DimUniques
)

// Sep joins the parts of a conversion dimension's value.
const Sep = counter.ValueSep

// ConversionDimensions are the breakdowns under one goal (or, for prop,
// one event): their values start with "<goal>\t", which a BreakdownQuery
// gives as its Prefix.
var ConversionDimensions = []Dimension{
	{Name: DimGoalProp, Title: "Properties"},
	{Name: DimGoalSource, Title: "Sources"},
	{Name: DimGoalCampaign, Title: "UTM campaigns"},
	{Name: DimGoalEntry, Title: "Entry pages"},
	{Name: DimProp, Title: "Properties"},
}

// LookupConversion finds a conversion breakdown by name.
func LookupConversion(name string) (Dimension, bool) { return lookup(ConversionDimensions, name) }

// MicrosPerUnit is the revenue column's scale: 1 EUR is 1,000,000.
const MicrosPerUnit = 1_000_000

// Money is the revenue of one goal in one currency over a period.
type Money struct {
	// Conversions is how many conversions carried revenue; Visitors how
	// many people made them (where the daily visitor hash was computed),
	// which the privacy rules count against k.
	Conversions int64 `json:"conversions"`
	Visitors    int64 `json:"-"`
	// Micros is their total, in millionths of the currency's unit.
	Micros int64 `json:"amount_micros"`
	// BelowK: withheld (its goal's conversions are, or fewer than k
	// conversions carried this currency); the numbers are then 0.
	BelowK bool `json:"below_k,omitempty"`
}

// RevenueTotals are one goal's revenue in one currency, in both periods.
type RevenueTotals struct {
	Goal     string `json:"goal"`
	Currency string `json:"currency"`
	Current  Money  `json:"current"`
	Previous Money  `json:"previous"`
}

// FunnelStep is the count of one funnel step over a range: visitors who
// reached it, in order.
type FunnelStep struct {
	Funnel string
	Step   int // 1..8
	WebCounts
}

// ConversionTotals are a site's goal, revenue, funnel and coverage rows over
// a range (goals and revenue with the previous period too).
type ConversionTotals struct {
	Goals   map[string]Totals // by goal name
	Revenue []RevenueTotals   // by goal, then currency
	Funnels []FunnelStep      // current range only
	// UniquesOn and UniquesOff are the hits and page views counted with
	// and without the daily visitor hash, in the current range: the
	// coverage of attribution and funnels.
	UniquesOn, UniquesOff WebCounts
}

// maxConversionRows bounds one answer: at most 100 goals, 20 funnels of 8
// steps and a few currencies per goal are declared at any time; goals
// deleted in the range add a few more.
const maxConversionRows = 20000

// revenueSum is what Conversions sums of the revenue column: as Float64,
// so that a range's total cannot wrap, and a row ClickHouse wrapped when
// merging forged amounts (negative: real revenue never is) as the
// largest amount a row holds.
const revenueSum = "if(revenue < 0, 9.223372036854776e18, toFloat64(revenue))"

// saturate turns a Float64 sum of revenue back into micro-units, at most
// math.MaxInt64 (about 9.2 trillion units of a currency).
func saturate(f float64) int64 {
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}

// Conversions sums the goal, revenue, funnel and uniques rows of a site
// over r and its previous period in one scan.
func (q *Querier) Conversions(ctx context.Context, site string, r Range) (ConversionTotals, error) {
	if err := r.validate(); err != nil {
		return ConversionTotals{}, err
	}
	prev := r.Previous()
	cs, ce, ps, pe := r.Start.Unix(), r.End.Unix(), prev.Start.Unix(), prev.End.Unix()
	cur, old := "hour >= toDateTime(?) AND hour < toDateTime(?)", "hour >= toDateTime(?) AND hour < toDateTime(?)"
	var cols []string
	var args []any
	for _, p := range []struct {
		cond string
		s, e int64
	}{{cur, cs, ce}, {old, ps, pe}} {
		for _, c := range []string{"hits", "pageviews", "visitors", revenueSum} {
			cols = append(cols, "sumIf("+c+", "+p.cond+")")
			args = append(args, p.s, p.e)
		}
	}
	rows, err := q.conn.Query(ctx, "SELECT dimension, value, "+strings.Join(cols, ", ")+`
FROM web_counters
WHERE site = ? AND dimension IN (?, ?, ?, ?) AND hour >= toDateTime(?) AND hour < toDateTime(?)
GROUP BY dimension, value
ORDER BY dimension, value
LIMIT ?`, append(args, site, DimGoal, DimRevenue, DimFunnel, DimUniques, min(cs, ps), max(ce, pe), maxConversionRows)...)
	if err != nil {
		return ConversionTotals{}, fmt.Errorf("cannot query conversions of %s: %w", site, err)
	}
	defer rows.Close()
	out := ConversionTotals{Goals: map[string]Totals{}}
	for rows.Next() {
		var dim, value string
		var c, p WebCounts
		var cr, pr float64
		if err := rows.Scan(&dim, &value, &c.Hits, &c.Pageviews, &c.Visitors, &cr, &p.Hits, &p.Pageviews, &p.Visitors, &pr); err != nil {
			return ConversionTotals{}, fmt.Errorf("cannot read conversions of %s: %w", site, err)
		}
		switch dim {
		case DimGoal:
			out.Goals[value] = Totals{Current: c, Previous: p}
		case DimRevenue:
			goal, cur, ok := strings.Cut(value, Sep)
			if ok {
				out.Revenue = append(out.Revenue, RevenueTotals{Goal: goal, Currency: cur,
					Current:  Money{Conversions: c.Hits, Visitors: c.Visitors, Micros: saturate(cr)},
					Previous: Money{Conversions: p.Hits, Visitors: p.Visitors, Micros: saturate(pr)}})
			}
		case DimFunnel:
			name, step, ok := strings.Cut(value, Sep)
			if n, err := strconv.Atoi(step); ok && err == nil && n >= 1 && n <= 8 {
				out.Funnels = append(out.Funnels, FunnelStep{Funnel: name, Step: n, WebCounts: c})
			}
		case DimUniques:
			switch value {
			case "on":
				out.UniquesOn = c
			case "off":
				out.UniquesOff = c
			}
		}
	}
	if err := rows.Err(); err != nil {
		return ConversionTotals{}, fmt.Errorf("cannot read conversions of %s: %w", site, err)
	}
	return out, nil
}

// GoalBreakdownsQuery asks for one conversion breakdown of every goal at
// once (the goals card), folded at K per goal like Breakdown.
type GoalBreakdownsQuery struct {
	Site      string
	Dimension string // one of ConversionDimensions (prop: by event)
	Range     Range
	Limit     int // rows per goal
	K         int
	Measure   Measure
}

// GoalBreakdowns returns, by goal, the top values of a conversion
// dimension over the range (whole values, "<goal>\t..."), each goal's
// values below K folded into its Other: Breakdown's answer for every goal
// in one scan.
func (q *Querier) GoalBreakdowns(ctx context.Context, gq GoalBreakdownsQuery) (map[string]Breakdown, error) {
	d, ok := LookupConversion(gq.Dimension)
	if !ok {
		return nil, inputErrorf("unknown goal breakdown %q", gq.Dimension)
	}
	if err := gq.Range.validate(); err != nil {
		return nil, err
	}
	if gq.Limit <= 0 || gq.Limit > MaxLimit {
		return nil, inputErrorf("limit must be between 1 and %d", MaxLimit)
	}
	var nonzero, outer []string
	for _, c := range webColumns {
		nonzero = append(nonzero, "s_"+c+" != 0")
		outer = append(outer, "sum(s_"+c+")")
	}
	// As Breakdown: values at or above k stay themselves, the rest of each
	// goal are one group (shown = 0) that sorts first, so LIMIT n+1 BY goal
	// keeps it and the goal's top n.
	grouped := "SELECT value, substring(value, 1, position(value, '\\t') - 1) AS g, " + sums("") + ", " + gq.Measure.sql() +
		` AS m FROM web_counters WHERE site = ? AND dimension = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
  AND position(value, '\t') > 1 GROUP BY value HAVING (` + strings.Join(nonzero, " OR ") + ")"
	sql := `SELECT g, m >= ? AS shown, if(shown, value, '') AS val,
    ` + strings.Join(outer, ", ") + `, sum(m) AS sm, count() AS n
FROM (` + grouped + `)
GROUP BY g, shown, val
ORDER BY g, shown, sm DESC, sum(s_pageviews) DESC, val
LIMIT ? BY g`
	k := int64(gq.K)
	rows, err := q.conn.Query(ctx, sql, k, gq.Site, d.Name, gq.Range.Start.Unix(), gq.Range.End.Unix(), gq.Limit+1)
	if err != nil {
		return nil, fmt.Errorf("cannot query %s breakdowns of %s: %w", d.Name, gq.Site, err)
	}
	defer rows.Close()
	out := map[string]Breakdown{}
	for rows.Next() {
		var g string
		var shown uint8
		var n uint64
		var r Row
		var sm int64
		if err := rows.Scan(append(append([]any{&g, &shown, &r.Value}, r.fields()...), &sm, &n)...); err != nil {
			return nil, fmt.Errorf("cannot read %s breakdowns of %s: %w", d.Name, gq.Site, err)
		}
		b, ok := out[g]
		if !ok {
			b = Breakdown{Dimension: d.Name, Rows: []Row{}, K: gq.K}
		}
		switch {
		case shown == 1:
			if len(b.Rows) < gq.Limit {
				b.Rows = append(b.Rows, r)
			}
		case k > 0:
			b.Folded = int64(n)
			if gq.Measure.Of(r.WebCounts) >= k {
				r.Value = OtherValue
				b.Other = &r
			}
		}
		out[g] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read %s breakdowns of %s: %w", d.Name, gq.Site, err)
	}
	return out, nil
}
