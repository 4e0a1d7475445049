package dashboards

import (
	"fmt"
	"time"

	"tally/dashboards/stats"
)

// period is a parsed range request: ?range=7d, or ?range=custom&from=&to=
// (inclusive days, YYYY-MM-DD) in the site's time zone.
type period struct {
	Key      string
	Label    string
	From, To string // inclusive local days, for the custom form
	Range    stats.Range
	Interval stats.Interval
}

var presets = []struct{ Key, Label string }{
	{"today", "Today"},
	{"yesterday", "Yesterday"},
	{"7d", "Last 7 days"},
	{"30d", "Last 30 days"},
	{"month", "This month"},
	{"lastmonth", "Last month"},
}

const dayLayout = "2006-01-02"

// parsePeriod turns the query into a range of whole UTC hours. Zones with
// half-hour offsets see day boundaries rounded out to the hour, the
// counters' resolution.
func parsePeriod(key, from, to string, loc *time.Location, now time.Time, retention time.Duration) (period, error) {
	if loc == nil {
		loc = time.UTC
	}
	if key == "" {
		key = "30d"
		if from != "" || to != "" {
			key = "custom"
		}
	}
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	tomorrow := today.AddDate(0, 0, 1)
	month := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc)
	p := period{Key: key}
	var start, end time.Time
	var nominal time.Duration
	switch key {
	case "today":
		start, end, nominal = today, tomorrow, 24*time.Hour
	case "yesterday":
		start, end, nominal = today.AddDate(0, 0, -1), today, 24*time.Hour
	case "7d":
		start, end, nominal = today.AddDate(0, 0, -6), tomorrow, 7*24*time.Hour
	case "30d":
		start, end, nominal = today.AddDate(0, 0, -29), tomorrow, 30*24*time.Hour
	case "month":
		start, end = month, month.AddDate(0, 1, 0)
		nominal = end.Sub(start)
	case "lastmonth":
		start, end = month.AddDate(0, -1, 0), month
		nominal = end.Sub(start)
	case "custom":
		f, err := time.ParseInLocation(dayLayout, from, loc)
		if err != nil {
			return period{}, fmt.Errorf("the start date %q is not a date like 2026-03-01", from)
		}
		t, err := time.ParseInLocation(dayLayout, to, loc)
		if err != nil {
			return period{}, fmt.Errorf("the end date %q is not a date like 2026-03-31", to)
		}
		if t.Before(f) {
			return period{}, fmt.Errorf("the end date %s is before the start date %s", to, from)
		}
		start, end = f, t.AddDate(0, 0, 1)
		nominal = end.Sub(start)
		p.Label = from + " to " + to
	default:
		return period{}, fmt.Errorf("unknown range %q: use today, yesterday, 7d, 30d, month, lastmonth or custom", key)
	}
	for _, pr := range presets {
		if pr.Key == key {
			p.Label = pr.Label
		}
	}
	p.From, p.To = start.Format(dayLayout), end.AddDate(0, 0, -1).Format(dayLayout)
	if oldest := now.Add(-retention); start.Before(oldest) {
		return period{}, fmt.Errorf("the range starts before %s: data is kept for %d days", oldest.In(loc).Format(dayLayout), int(retention.Hours()/24))
	}
	if !start.Before(now) {
		return period{}, fmt.Errorf("the range starts in the future")
	}
	// Up to the end of the current hour: later hours are empty, and the
	// previous period is compared over the same elapsed time.
	if cap := now.Truncate(time.Hour).Add(time.Hour); end.After(cap) {
		end = cap
	}
	r := stats.Range{Start: start.UTC().Truncate(time.Hour), Period: nominal}
	r.End = end.UTC().Truncate(time.Hour)
	if !end.Equal(r.End) {
		r.End = r.End.Add(time.Hour)
	}
	p.Range = r
	p.Interval = stats.Daily
	if nominal <= 48*time.Hour {
		p.Interval = stats.Hourly
	}
	return p, nil
}
