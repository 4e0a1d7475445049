package stats

import (
	"context"
	"fmt"
	"time"

	"tally/counter"
)

// EmailCounts are summed email counters.
type EmailCounts struct {
	Sent         int64 `json:"sent"`
	Opens        int64 `json:"opens"`
	UniqueOpens  int64 `json:"unique_opens"`
	MachineOpens int64 `json:"machine_opens"`
	// Clicks, UniqueClicks: people's clicks on signed links (unique per
	// campaign; per link in link rows). MachineClicks: scanners' and other
	// machines'. ImpliedOpens: the unique opens known only from a click
	// (images blocked), included in Opens and UniqueOpens.
	Clicks        int64 `json:"clicks"`
	UniqueClicks  int64 `json:"unique_clicks"`
	MachineClicks int64 `json:"machine_clicks"`
	ImpliedOpens  int64 `json:"implied_opens"`
	// BelowK marks opens withheld because the campaign or the row is below
	// the viewer's k (the open counts are then 0; Sent, the sender's own
	// report, stays). The queries here never set it.
	BelowK bool `json:"below_k,omitempty"`
	// ClicksBelowK and MachineBelowK mark the clicks, and the machine
	// counts, withheld on their own (see dashboards/privacy).
	ClicksBelowK  bool `json:"clicks_below_k,omitempty"`
	MachineBelowK bool `json:"machine_below_k,omitempty"`
}

// OpenMeasure is what k counts in an email row: unique opens, or opens
// where no unique open was recorded (pixels without a recipient token).
func (c EmailCounts) OpenMeasure() int64 {
	if c.UniqueOpens > 0 {
		return c.UniqueOpens
	}
	return c.Opens
}

// Add adds o to c.
func (c *EmailCounts) Add(o EmailCounts) {
	c.Sent += o.Sent
	c.Opens += o.Opens
	c.UniqueOpens += o.UniqueOpens
	c.MachineOpens += o.MachineOpens
	c.Clicks += o.Clicks
	c.UniqueClicks += o.UniqueClicks
	c.MachineClicks += o.MachineClicks
	c.ImpliedOpens += o.ImpliedOpens
}

// OpenRate is unique opens per email sent, 0 when nothing was reported sent.
func (c EmailCounts) OpenRate() float64 {
	if c.Sent <= 0 {
		return 0
	}
	return float64(c.UniqueOpens) / float64(c.Sent)
}

// Campaign is one email campaign's totals since Since.
type Campaign struct {
	Name string `json:"campaign"`
	// First and Last are the first and last hours with any counter;
	// FirstSend is the first hour with sends reported (zero if none).
	First     time.Time `json:"first"`
	Last      time.Time `json:"last,omitzero"`
	FirstSend time.Time `json:"-"`
	EmailCounts
	OpenRate float64 `json:"open_rate"`
	Rates
}

// Campaigns lists a site's campaigns with activity since since (the
// retention window), newest first.
func (q *Querier) Campaigns(ctx context.Context, site string, since time.Time, limit int) ([]Campaign, error) {
	if limit <= 0 || limit > MaxLimit {
		return nil, inputErrorf("limit must be between 1 and %d", MaxLimit)
	}
	return q.campaigns(ctx, site, "", since, limit)
}

// Campaign returns one campaign, or ok=false when it has no counters.
func (q *Querier) Campaign(ctx context.Context, site, campaign string, since time.Time) (c Campaign, ok bool, err error) {
	cs, err := q.campaigns(ctx, site, campaign, since, 1)
	if err != nil || len(cs) == 0 {
		return Campaign{}, false, err
	}
	return cs[0], true, nil
}

func (q *Querier) campaigns(ctx context.Context, site, campaign string, since time.Time, limit int) ([]Campaign, error) {
	where := "site = ? AND dimension = ? AND hour >= toDateTime(?)"
	args := []any{site, counter.DimTotal, since.Unix()}
	if campaign != "" {
		where = "site = ? AND campaign = ? AND dimension = ? AND hour >= toDateTime(?)"
		args = []any{site, campaign, counter.DimTotal, since.Unix()}
	}
	rows, err := q.conn.Query(ctx, `SELECT campaign, min(hour) AS first, max(hour), minIf(hour, sent != 0), `+emailSums+`
FROM email_counters WHERE `+where+`
GROUP BY campaign ORDER BY first DESC, campaign LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("cannot query campaigns of %s: %w", site, err)
	}
	defer rows.Close()
	out := []Campaign{}
	for rows.Next() {
		var c Campaign
		if err := rows.Scan(append([]any{&c.Name, &c.First, &c.Last, &c.FirstSend}, c.EmailCounts.dest()...)...); err != nil {
			return nil, fmt.Errorf("cannot read campaigns of %s: %w", site, err)
		}
		if c.FirstSend.Unix() <= 0 {
			c.FirstSend = time.Time{}
		}
		c.SetRates()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read campaigns of %s: %w", site, err)
	}
	return out, nil
}

// EmailPoint is one bucket of a campaign's time series.
type EmailPoint struct {
	Start time.Time `json:"start"`
	EmailCounts
}

// CampaignSeries returns a campaign's counters per bucket over r.
func (q *Querier) CampaignSeries(ctx context.Context, site, campaign string, r Range, iv Interval, loc *time.Location) ([]EmailPoint, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	buckets, err := makeBuckets(r, iv, loc)
	if err != nil {
		return nil, err
	}
	points := make([]EmailPoint, len(buckets))
	for i, b := range buckets {
		points[i].Start = b
	}
	rows, err := q.conn.Query(ctx, `SELECT hour, `+emailSums+`
FROM email_counters
WHERE site = ? AND campaign = ? AND dimension = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
GROUP BY hour`, site, campaign, counter.DimTotal, r.Start.Unix(), r.End.Unix())
	if err != nil {
		return nil, fmt.Errorf("cannot query series of campaign %s: %w", campaign, err)
	}
	defer rows.Close()
	for rows.Next() {
		var h time.Time
		var c EmailCounts
		if err := rows.Scan(append([]any{&h}, c.dest()...)...); err != nil {
			return nil, fmt.Errorf("cannot read series of campaign %s: %w", campaign, err)
		}
		if i := bucketIndex(buckets, h); i >= 0 {
			points[i].Add(c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read series of campaign %s: %w", campaign, err)
	}
	return points, nil
}

// EmailRow is one value of a campaign breakdown.
type EmailRow struct {
	Value string `json:"value"`
	EmailCounts
}

// EmailBreakdown is a campaign's top values of one dimension, k-folded on
// EmailMeasure like Breakdown.
type EmailBreakdown struct {
	Dimension string     `json:"dimension"`
	Rows      []EmailRow `json:"rows"`
	Other     *EmailRow  `json:"other,omitempty"`
	Folded    int64      `json:"folded,omitempty"`
	K         int        `json:"k"`
}

// CampaignBreakdown returns a campaign's top values of dim since since.
func (q *Querier) CampaignBreakdown(ctx context.Context, site, campaign, dim string, since time.Time, limit, k int) (EmailBreakdown, error) {
	d, ok := LookupEmail(dim)
	if !ok {
		return EmailBreakdown{}, inputErrorf("unknown email dimension %q", dim)
	}
	if limit <= 0 || limit > MaxLimit {
		return EmailBreakdown{}, inputErrorf("limit must be between 1 and %d", MaxLimit)
	}
	args := []any{site, campaign, d.Name, since.Unix()}
	grouped := `SELECT value, ` + emailSumsAs + `
FROM email_counters WHERE site = ? AND campaign = ? AND dimension = ? AND hour >= toDateTime(?)
GROUP BY value HAVING (s != 0 OR o != 0 OR u != 0 OR m != 0 OR cl != 0 OR uc != 0 OR mc != 0)`
	measure := EmailMeasureSQL(d.Name)
	b := EmailBreakdown{Dimension: d.Name, Rows: []EmailRow{}, K: k}
	top, topArgs := grouped, args
	if k > 0 {
		top += " AND " + measure + " >= ?"
		topArgs = append(append([]any{}, args...), int64(k))
	}
	rows, err := q.conn.Query(ctx, top+" ORDER BY "+measure+" DESC, o + cl DESC, value LIMIT ?", append(topArgs, limit)...)
	if err != nil {
		return EmailBreakdown{}, fmt.Errorf("cannot query %s breakdown of campaign %s: %w", d.Name, campaign, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r EmailRow
		if err := rows.Scan(append([]any{&r.Value}, r.dest()...)...); err != nil {
			return EmailBreakdown{}, fmt.Errorf("cannot read %s breakdown of campaign %s: %w", d.Name, campaign, err)
		}
		b.Rows = append(b.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return EmailBreakdown{}, fmt.Errorf("cannot read %s breakdown of campaign %s: %w", d.Name, campaign, err)
	}
	if k <= 0 {
		return b, nil
	}
	var n uint64
	var o EmailRow
	if err := q.conn.QueryRow(ctx, "SELECT count(), sum(s), sum(o), sum(u), sum(m), sum(cl), sum(uc), sum(mc), sum(io) FROM ("+grouped+" AND "+measure+" < ?)",
		append(args, int64(k))...).Scan(append([]any{&n}, o.dest()...)...); err != nil {
		return EmailBreakdown{}, fmt.Errorf("cannot fold small %s counts of campaign %s: %w", d.Name, campaign, err)
	}
	b.Folded = int64(n)
	if n > 0 && EmailMeasure(d.Name, o.EmailCounts) >= int64(k) {
		o.Value = OtherValue
		b.Other = &o
	}
	return b, nil
}
