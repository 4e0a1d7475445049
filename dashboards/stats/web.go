package stats

import (
	"context"
	"fmt"
	"strings"
	"time"

	"tally/counter"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// MaxLimit bounds the rows of one breakdown.
const MaxLimit = 1000

// OtherValue labels the row that small counts are folded into.
const OtherValue = "(other)"

// Querier runs the stats queries on a connection whose default database
// holds the counter tables (the sink's connection).
type Querier struct {
	conn driver.Conn
}

// New makes a Querier.
func New(conn driver.Conn) *Querier { return &Querier{conn: conn} }

// WebCounts are summed web counters. Visitors is a sum of daily unique
// visitors: one person on three days counts three times. The visit and
// engagement counters are collector/visits' (Metrics derives the rates).
type WebCounts struct {
	Hits      int64 `json:"hits"`
	Pageviews int64 `json:"pageviews"`
	Visitors  int64 `json:"visitors"`

	Visits        int64 `json:"visits"`
	TrackedVisits int64 `json:"tracked_visits"`
	Bounces       int64 `json:"bounces"`
	Exits         int64 `json:"exits"`
	EngagedMS     int64 `json:"engaged_ms"`
	EngagedViews  int64 `json:"engaged_views"`
	ScrollSum     int64 `json:"scroll_sum"`
	ScrollViews   int64 `json:"scroll_views"`

	// BelowK marks counts withheld because they are below the viewer's k
	// (the numbers are then 0). The queries here never set it: the
	// dashboards' privacy policy does.
	BelowK bool `json:"below_k,omitempty"`
	// Withheld names the visit counters withheld on their own (below k in
	// a row that is shown); they read 0, and so do the sums that go with
	// them (engaged_ms with engaged_views, scroll_sum with scroll_views).
	Withheld Fields `json:"withheld,omitempty"`
}

// webColumns are the counter columns, in the order of WebCounts.fields.
var webColumns = []string{"hits", "pageviews", "visitors", "visits", "tracked_visits", "bounces", "exits",
	"engaged_ms", "engaged_views", "scroll_sum", "scroll_views"}

// fields points at the counters in the order of webColumns.
func (c *WebCounts) fields() []any {
	return []any{&c.Hits, &c.Pageviews, &c.Visitors, &c.Visits, &c.TrackedVisits, &c.Bounces, &c.Exits,
		&c.EngagedMS, &c.EngagedViews, &c.ScrollSum, &c.ScrollViews}
}

// sums is "sum(col) AS alias_col, ..." over webColumns (constants).
func sums(prefix string) string {
	var b strings.Builder
	for i, c := range webColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "sum(%s%s) AS %s_%s", prefix, c, "s", c)
	}
	return b.String()
}

// Measure is what the small-count threshold k counts in a row.
type Measure uint8

const (
	// MeasureVisitors counts a row's visitors, or its hits when it has no
	// visitor at all (hits counted without a visitor hash).
	MeasureVisitors Measure = iota
	// MeasureHits counts hits: for sites where most hits carry no visitor
	// hash (anonymous mode without consent), and for hit-only dimensions.
	MeasureHits
	// MeasureVisits counts visits: entry pages (the path dimension ranked
	// by visits) and sources by visits.
	MeasureVisits
	// MeasureExits counts exits: exit pages.
	MeasureExits
)

// Of is the measure of c.
func (m Measure) Of(c WebCounts) int64 {
	switch {
	case m == MeasureVisits:
		return c.Visits
	case m == MeasureExits:
		return c.Exits
	case m == MeasureHits || c.Visitors <= 0:
		return c.Hits
	}
	return c.Visitors
}

// sql is the measure over the columns of a grouped query (s_hits,
// s_visitors...); a constant, never input.
func (m Measure) sql() string {
	switch m {
	case MeasureHits:
		return "s_hits"
	case MeasureVisits:
		return "s_visits"
	case MeasureExits:
		return "s_exits"
	}
	return "if(s_visitors > 0, s_visitors, s_hits)"
}

// For is the measure of dimension d: hit-only dimensions count hits.
func (m Measure) For(d Dimension) Measure {
	if d.HitsOnly {
		return MeasureHits
	}
	return m
}

// Totals are a site's totals over a range and the previous period of the
// same length.
type Totals struct {
	Current  WebCounts `json:"current"`
	Previous WebCounts `json:"previous"`
}

// Totals sums the "total" dimension over r and r.Previous() in one scan.
func (q *Querier) Totals(ctx context.Context, site string, r Range) (Totals, error) {
	if err := r.validate(); err != nil {
		return Totals{}, err
	}
	prev := r.Previous()
	var t Totals
	cs, ce, ps, pe := r.Start.Unix(), r.End.Unix(), prev.Start.Unix(), prev.End.Unix()
	var cols []string
	var args []any
	for _, period := range [][2]int64{{cs, ce}, {ps, pe}} {
		for _, c := range webColumns {
			cols = append(cols, "sumIf("+c+", hour >= toDateTime(?) AND hour < toDateTime(?))")
			args = append(args, period[0], period[1])
		}
	}
	row := q.conn.QueryRow(ctx, "SELECT "+strings.Join(cols, ",\n    ")+`
FROM web_counters
WHERE site = ? AND dimension = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)`,
		append(args, site, counter.DimTotal, min(ps, cs), max(pe, ce))...)
	if err := row.Scan(append(t.Current.fields(), t.Previous.fields()...)...); err != nil {
		return Totals{}, fmt.Errorf("cannot sum totals of %s: %w", site, err)
	}
	return t, nil
}

// Interval is the width of a time-series bucket.
type Interval string

// Series intervals.
const (
	Hourly Interval = "hour"
	Daily  Interval = "day"
)

// Point is one bucket of a web time series; Start is in the site's zone.
type Point struct {
	Start time.Time `json:"start"`
	WebCounts
}

// SeriesQuery asks for a time series of one site.
type SeriesQuery struct {
	Site     string
	Range    Range
	Interval Interval
	// Location buckets days at the site's midnight (default UTC).
	Location *time.Location
	// Dimension and Value select one breakdown row (e.g. path "/pricing");
	// empty Dimension means the site's totals.
	Dimension, Value string
	// K is the site's small-count threshold: the series of a value that
	// counts fewer than K (by Measure) over the range is refused, as the
	// value is folded into "(other)" in breakdowns.
	K       int
	Measure Measure
}

// Series returns one point per bucket, zeros included, in time order.
func (q *Querier) Series(ctx context.Context, sq SeriesQuery) ([]Point, error) {
	if err := sq.Range.validate(); err != nil {
		return nil, err
	}
	dim, value := counter.DimTotal, ""
	var d Dimension
	if sq.Dimension != "" {
		var ok bool
		if d, ok = LookupWeb(sq.Dimension); !ok {
			return nil, inputErrorf("unknown dimension %q", sq.Dimension)
		}
		dim, value = sq.Dimension, sq.Value
	}
	loc := sq.Location
	if loc == nil {
		loc = time.UTC
	}
	buckets, err := makeBuckets(sq.Range, sq.Interval, loc)
	if err != nil {
		return nil, err
	}
	points := make([]Point, len(buckets))
	for i, b := range buckets {
		points[i].Start = b
	}
	rows, err := q.conn.Query(ctx, `SELECT hour, `+sums("")+`
FROM web_counters
WHERE site = ? AND dimension = ? AND hour >= toDateTime(?) AND hour < toDateTime(?) AND value = ?
GROUP BY hour`, sq.Site, dim, sq.Range.Start.Unix(), sq.Range.End.Unix(), value)
	if err != nil {
		return nil, fmt.Errorf("cannot query series of %s: %w", sq.Site, err)
	}
	defer rows.Close()
	for rows.Next() {
		var h time.Time
		var c WebCounts
		if err := rows.Scan(append([]any{&h}, c.fields()...)...); err != nil {
			return nil, fmt.Errorf("cannot read series of %s: %w", sq.Site, err)
		}
		if i := bucketIndex(buckets, h); i >= 0 {
			points[i].Add(c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read series of %s: %w", sq.Site, err)
	}
	if sq.K > 0 && sq.Dimension != "" {
		var sum WebCounts
		for _, p := range points {
			sum.Add(p.WebCounts)
		}
		if sq.Measure.For(d).Of(sum) < int64(sq.K) {
			return nil, inputErrorf("%s %q counts fewer than %d in this range and is folded into %s", d.Name, value, sq.K, OtherValue)
		}
	}
	return points, nil
}

// maxBuckets bounds a series (a year and a bit of days, or 31 days of hours).
const maxBuckets = 800

// makeBuckets lists bucket starts covering r, in loc.
func makeBuckets(r Range, iv Interval, loc *time.Location) ([]time.Time, error) {
	var out []time.Time
	switch iv {
	case Hourly:
		for t := r.Start.Truncate(time.Hour); t.Before(r.End); t = t.Add(time.Hour) {
			out = append(out, t.In(loc))
			if len(out) > maxBuckets {
				return nil, inputErrorf("too many hourly points: use interval=day for ranges over %d hours", maxBuckets)
			}
		}
	case Daily, "":
		s := r.Start.In(loc)
		for t := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, loc); t.Before(r.End); t = t.AddDate(0, 0, 1) {
			out = append(out, t)
			if len(out) > maxBuckets {
				return nil, inputErrorf("too many daily points: ranges are limited to %d days", maxBuckets)
			}
		}
	default:
		return nil, inputErrorf("unknown interval %q (hour or day)", iv)
	}
	return out, nil
}

// bucketIndex finds the bucket holding t: the last start not after it.
func bucketIndex(buckets []time.Time, t time.Time) int {
	lo, hi := 0, len(buckets)
	for lo < hi {
		m := (lo + hi) / 2
		if buckets[m].After(t) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

// Add adds o's counters to c.
func (c *WebCounts) Add(o WebCounts) {
	c.Hits += o.Hits
	c.Pageviews += o.Pageviews
	c.Visitors += o.Visitors
	c.Visits += o.Visits
	c.TrackedVisits += o.TrackedVisits
	c.Bounces += o.Bounces
	c.Exits += o.Exits
	c.EngagedMS += o.EngagedMS
	c.EngagedViews += o.EngagedViews
	c.ScrollSum += o.ScrollSum
	c.ScrollViews += o.ScrollViews
}

// Row is one value of a breakdown.
type Row struct {
	Value string `json:"value"`
	WebCounts
}

// Breakdown is the top values of one dimension. Values counting fewer than
// K (by the query's Measure) are never listed: they are summed into Other,
// which is itself only given when it reaches K.
type Breakdown struct {
	Dimension string `json:"dimension"`
	Rows      []Row  `json:"rows"`
	Other     *Row   `json:"other,omitempty"`
	// Folded is how many values were folded into Other (or withheld when
	// Other stayed below K). Only the admin's own view shows it.
	Folded int64 `json:"folded,omitempty"`
	K      int   `json:"k"`
}

// BreakdownQuery asks for the top values of one dimension.
type BreakdownQuery struct {
	Site      string
	Dimension string
	Range     Range
	Limit     int
	// Filter keeps values containing it (case-insensitive). A filtered
	// answer lists the matching values that reach K and nothing else: no
	// Other and no Folded, which would tell whether values below K match
	// (and so rebuild them a character at a time).
	Filter string
	// K is the site's small-count threshold; 0 folds nothing.
	K       int
	Measure Measure
	// Prefix selects the values under one goal (one event for prop):
	// "<goal>\t". Required for the ConversionDimensions, refused for the
	// others; Filter then applies to what follows it, and the rows keep
	// their whole values (the privacy policy tells them apart by goal).
	Prefix string
}

// Breakdown returns the top values by the query's measure, then page
// views, then value.
func (q *Querier) Breakdown(ctx context.Context, bq BreakdownQuery) (Breakdown, error) {
	d, ok := LookupWeb(bq.Dimension)
	conversion := false
	if !ok {
		if d, ok = LookupConversion(bq.Dimension); !ok {
			return Breakdown{}, inputErrorf("unknown dimension %q", bq.Dimension)
		}
		conversion = true
	}
	switch {
	case conversion && (bq.Prefix == "" || !strings.HasSuffix(bq.Prefix, Sep)):
		return Breakdown{}, inputErrorf("%s needs a goal (an event for prop)", d.Name)
	case !conversion && bq.Prefix != "":
		return Breakdown{}, inputErrorf("%s has no goal", d.Name)
	}
	if err := bq.Range.validate(); err != nil {
		return Breakdown{}, err
	}
	if bq.Limit <= 0 || bq.Limit > MaxLimit {
		return Breakdown{}, inputErrorf("limit must be between 1 and %d", MaxLimit)
	}
	measure := bq.Measure.For(d)
	where := "site = ? AND dimension = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)"
	args := []any{bq.Site, d.Name, bq.Range.Start.Unix(), bq.Range.End.Unix()}
	if bq.Prefix != "" {
		// substring counts bytes, as len does.
		where += " AND substring(value, 1, ?) = ?"
		args = append(args, len(bq.Prefix), bq.Prefix)
	}
	if bq.Filter != "" {
		where += " AND positionCaseInsensitiveUTF8(substring(value, ?), ?) > 0"
		args = append(args, len(bq.Prefix)+1, bq.Filter)
	}
	k := int64(bq.K)
	var nonzero, outer []string
	for _, c := range webColumns {
		nonzero = append(nonzero, "s_"+c+" != 0")
		outer = append(outer, "sum(s_"+c+")")
	}
	having := "(" + strings.Join(nonzero, " OR ") + ")"
	if measure == MeasureVisits || measure == MeasureExits {
		// Entry and exit pages: a page that was neither is not one,
		// whatever else it counts.
		having = "m > 0"
	}
	grouped := "SELECT value, " + sums("") + ", " + measure.sql() +
		" AS m FROM web_counters WHERE " + where + " GROUP BY value HAVING " + having

	b := Breakdown{Dimension: d.Name, Rows: []Row{}, K: bq.K}
	// One scan: values at or above k stay themselves, the rest are summed in
	// one group (shown = 0) that sorts first, so LIMIT n+1 keeps it and the
	// top n. The measure and the column names are constants, never input.
	q2 := `SELECT m >= ? AS shown, if(shown, value, '') AS val,
    ` + strings.Join(outer, ", ") + `, sum(m) AS sm, count() AS n
FROM (` + grouped + `)
GROUP BY shown, val
ORDER BY shown, sm DESC, sum(s_pageviews) DESC, val
LIMIT ?`
	rows, err := q.conn.Query(ctx, q2, append(append([]any{k}, args...), bq.Limit+1)...)
	if err != nil {
		return Breakdown{}, fmt.Errorf("cannot query %s breakdown of %s: %w", d.Name, bq.Site, err)
	}
	defer rows.Close()
	for rows.Next() {
		var shown uint8
		var n uint64
		var r Row
		var sm int64
		dest := append(append([]any{&shown, &r.Value}, r.fields()...), &sm, &n)
		if err := rows.Scan(dest...); err != nil {
			return Breakdown{}, fmt.Errorf("cannot read %s breakdown of %s: %w", d.Name, bq.Site, err)
		}
		if shown == 1 {
			if len(b.Rows) < bq.Limit {
				b.Rows = append(b.Rows, r)
			}
			continue
		}
		if k <= 0 || bq.Filter != "" {
			continue // nothing is folded (only negative corrections land here), or a filter asked
		}
		b.Folded = int64(n)
		if measure.Of(r.WebCounts) >= k {
			r.Value = OtherValue
			b.Other = &r
		}
	}
	if err := rows.Err(); err != nil {
		return Breakdown{}, fmt.Errorf("cannot read %s breakdown of %s: %w", d.Name, bq.Site, err)
	}
	return b, nil
}
