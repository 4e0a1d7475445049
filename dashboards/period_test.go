package dashboards

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, 3, 15, 13, 20, 0, 0, time.UTC) // 14:20 in Berlin
	year := 400 * 24 * time.Hour
	f := func(key, from, to string, loc *time.Location, wantStart, wantEnd string, wantPeriod time.Duration) {
		t.Helper()
		p, err := parsePeriod(key, from, to, loc, now, year)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if got := p.Range.Start.Format(time.RFC3339); got != wantStart {
			t.Errorf("%s: start %s, want %s", key, got, wantStart)
		}
		if got := p.Range.End.Format(time.RFC3339); got != wantEnd {
			t.Errorf("%s: end %s, want %s", key, got, wantEnd)
		}
		if p.Range.Period != wantPeriod {
			t.Errorf("%s: period %v, want %v", key, p.Range.Period, wantPeriod)
		}
	}
	day := 24 * time.Hour
	f("today", "", "", berlin, "2026-03-14T23:00:00Z", "2026-03-15T14:00:00Z", day)
	f("yesterday", "", "", time.UTC, "2026-03-14T00:00:00Z", "2026-03-15T00:00:00Z", day)
	f("", "", "", time.UTC, "2026-02-14T00:00:00Z", "2026-03-15T14:00:00Z", 30*day)
	f("7d", "", "", time.UTC, "2026-03-09T00:00:00Z", "2026-03-15T14:00:00Z", 7*day)
	f("month", "", "", time.UTC, "2026-03-01T00:00:00Z", "2026-03-15T14:00:00Z", 31*day)
	f("lastmonth", "", "", time.UTC, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", 28*day)
	f("custom", "2026-03-01", "2026-03-02", time.UTC, "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z", 2*day)

	for _, bad := range [][3]string{
		{"fortnight", "", ""},
		{"custom", "2026-13-01", "2026-03-01"},
		{"custom", "2026-03-05", "2026-03-01"},
		{"custom", "2020-01-01", "2020-01-02"}, // before retention
		{"custom", "2027-01-01", "2027-01-02"}, // future
	} {
		if _, err := parsePeriod(bad[0], bad[1], bad[2], time.UTC, now, year); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}
