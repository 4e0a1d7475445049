package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"tally/counter"
)

// Fields is a set of visit counters of a WebCounts, named as in JSON.
type Fields uint16

// The visit counters that a privacy policy may withhold on their own.
const (
	FieldVisits Fields = 1 << iota
	FieldTrackedVisits
	FieldBounces
	FieldExits
	FieldEngagedViews // with engaged_ms
	FieldScrollViews  // with scroll_sum

	AllVisitFields = FieldVisits | FieldTrackedVisits | FieldBounces | FieldExits | FieldEngagedViews | FieldScrollViews
)

var fieldNames = []string{"visits", "tracked_visits", "bounces", "exits", "engaged_views", "scroll_views"}

// MarshalJSON lists the names of the fields in the set.
func (f Fields) MarshalJSON() ([]byte, error) {
	var names []string
	for i, n := range fieldNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return json.Marshal(names)
}

// Counts returns, for each field, a pointer to its count in c and to the
// sum that goes with it (nil for none).
func (c *WebCounts) Counts() []struct {
	Field      Fields
	Count, Sum *int64
} {
	return []struct {
		Field      Fields
		Count, Sum *int64
	}{
		{FieldVisits, &c.Visits, nil},
		{FieldTrackedVisits, &c.TrackedVisits, nil},
		{FieldBounces, &c.Bounces, nil},
		{FieldExits, &c.Exits, nil},
		{FieldEngagedViews, &c.EngagedViews, &c.EngagedMS},
		{FieldScrollViews, &c.ScrollViews, &c.ScrollSum},
	}
}

// Metrics are the rates derived from a WebCounts (collector/visits says
// how each is counted). A metric is nil where a count it needs is 0 or
// withheld.
type Metrics struct {
	// BounceRate is bounces per visit, 0 to 1, over the visits whose entry
	// page ran our tracker (the only ones whose bounce is known).
	BounceRate *float64 `json:"bounce_rate"`
	// VisitDuration is engaged seconds per visit (the total row only:
	// engagement is counted on path and total rows).
	VisitDuration *float64 `json:"visit_duration"`
	// ViewsPerVisit is page views per visit.
	ViewsPerVisit *float64 `json:"views_per_visit"`
	// TimeOnPage is engaged seconds per page view of a script that
	// reports engagement (path and total rows).
	TimeOnPage *float64 `json:"time_on_page"`
	// ScrollDepth is the mean deepest scroll, in percent (path and total
	// rows).
	ScrollDepth *float64 `json:"scroll_depth"`
	// ExitRate is exits per page view, 0 to 1: an estimate (path rows).
	ExitRate *float64 `json:"exit_rate"`
}

func rate(num, den int64, scale float64, ok bool) *float64 {
	if !ok || den <= 0 {
		return nil
	}
	r := float64(num) / float64(den) * scale
	return &r
}

// Metrics derives the rates of c; total says c is a site's total row,
// where visit duration is meaningful.
func (c WebCounts) Metrics(total bool) Metrics {
	if c.BelowK {
		return Metrics{}
	}
	has := func(f Fields) bool { return c.Withheld&f == 0 }
	m := Metrics{
		BounceRate:    rate(max(c.Bounces, 0), c.TrackedVisits, 1, has(FieldBounces|FieldTrackedVisits)),
		ViewsPerVisit: rate(c.Pageviews, c.Visits, 1, has(FieldVisits)),
		TimeOnPage:    rate(c.EngagedMS, c.EngagedViews, 1.0/1000, has(FieldEngagedViews)),
		ScrollDepth:   rate(c.ScrollSum, c.ScrollViews, 1, has(FieldScrollViews)),
		ExitRate:      rate(max(c.Exits, 0), c.Pageviews, 1, has(FieldExits)),
	}
	if total {
		m.VisitDuration = rate(c.EngagedMS, c.Visits, 1.0/1000, has(FieldVisits|FieldEngagedViews))
	}
	// Corrections without an identifier can be repeated by a client (an
	// engagement report taking back a bounce or an exit): rates are
	// clamped to what they can be.
	if m.BounceRate != nil && *m.BounceRate > 1 {
		*m.BounceRate = 1
	}
	if m.ExitRate != nil && *m.ExitRate > 1 {
		*m.ExitRate = 1
	}
	if m.ScrollDepth != nil && *m.ScrollDepth > 100 {
		*m.ScrollDepth = 100
	}
	return m
}

// AccessCell is one hour of the week: the counts of every hour of the range
// that falls on this weekday and hour in the site's zone.
type AccessCell struct {
	Weekday time.Weekday `json:"weekday"` // 0 is Sunday
	Hour    int          `json:"hour"`    // 0-23, local
	WebCounts
}

// AccessTimes sums the site's totals by local weekday and hour over r: the
// hour-of-day by weekday view, from the hourly buckets. Cells come Monday
// first, then by hour (168 of them, empty ones included). Hours that a
// zone's daylight saving change repeats count in their local hour; zones
// whose offset is not whole hours round down to the local hour.
func (q *Querier) AccessTimes(ctx context.Context, site string, r Range, loc *time.Location) ([]AccessCell, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	rows, err := q.conn.Query(ctx, `SELECT hour, `+sums("")+`
FROM web_counters
WHERE site = ? AND dimension = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
GROUP BY hour`, site, counter.DimTotal, r.Start.Unix(), r.End.Unix())
	if err != nil {
		return nil, fmt.Errorf("cannot query access times of %s: %w", site, err)
	}
	defer rows.Close()
	cells := make([]AccessCell, 7*24)
	for i := range cells {
		cells[i].Weekday = time.Weekday((i/24 + 1) % 7)
		cells[i].Hour = i % 24
	}
	for rows.Next() {
		var h time.Time
		var c WebCounts
		if err := rows.Scan(append([]any{&h}, c.fields()...)...); err != nil {
			return nil, fmt.Errorf("cannot read access times of %s: %w", site, err)
		}
		l := h.In(loc)
		cells[CellIndex(l.Weekday(), l.Hour())].Add(c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read access times of %s: %w", site, err)
	}
	return cells, nil
}

// CellIndex is the index of (weekday, hour) in AccessTimes' cells.
func CellIndex(d time.Weekday, hour int) int { return (int(d)+6)%7*24 + hour }

// Weekdays names the rows of the access-times view, Monday first.
var Weekdays = strings.Fields("Mon Tue Wed Thu Fri Sat Sun")
