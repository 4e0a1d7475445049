package stats_test

import (
	"testing"
	"time"

	"tally/aggregator"
	"tally/counter"
	"tally/dashboards/stats"
	"tally/internal/fixture"
)

// loadVisits writes visit counters through the sink (every column), on top
// of an empty database: three paths over the fixture's two days.
func loadVisits(t *testing.T) *stats.Querier {
	t.Helper()
	s := fixture.Empty(t)
	b := aggregator.NewBatch()
	add := func(day, hour int, dim, value string, c counter.WebCounts) {
		k := counter.WebKey{Site: fixture.Site, Hour: fixture.Day.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour).Unix(), Dimension: dim, Value: value}
		old := b.Web[k]
		old.Add(c)
		b.Web[k] = old
	}
	// 20 visits, 12 of them tracked, 5 bounces; 60 page views, 50 of them
	// from scripts with 150 s engaged; scroll 60% over 40 views.
	add(0, 10, "total", "", counter.WebCounts{Hits: 40, Pageviews: 40, Visits: 12, TrackedVisits: 8, Bounces: 3, EngagedMS: 100_000, EngagedViews: 30, ScrollSum: 1500, ScrollViews: 25})
	add(1, 15, "total", "", counter.WebCounts{Hits: 20, Pageviews: 20, Visits: 8, TrackedVisits: 4, Bounces: 2, EngagedMS: 50_000, EngagedViews: 20, ScrollSum: 900, ScrollViews: 15})
	add(-1, 9, "total", "", counter.WebCounts{Hits: 10, Pageviews: 10, Visits: 5, TrackedVisits: 5, Bounces: 4}) // previous period
	// Entry and exit pages. The 16:00 row of /docs holds only a taken-back
	// exit: it must still be summed.
	add(0, 10, "path", "/", counter.WebCounts{Hits: 30, Pageviews: 30, Visits: 14, Exits: 9, EngagedMS: 60_000, EngagedViews: 20})
	add(0, 10, "path", "/docs", counter.WebCounts{Hits: 20, Pageviews: 20, Visits: 4, Exits: 8, EngagedMS: 90_000, EngagedViews: 15, ScrollSum: 1200, ScrollViews: 15})
	add(1, 16, "path", "/docs", counter.WebCounts{Exits: -1})
	add(1, 15, "path", "/rare", counter.WebCounts{Hits: 10, Pageviews: 10, Visits: 2, Exits: 3})
	add(0, 10, "language", "de", counter.WebCounts{Hits: 35, Pageviews: 35, Visits: 11})
	add(1, 15, "language", "en", counter.WebCounts{Hits: 25, Pageviews: 25, Visits: 9})
	if err := s.Write(ctx, b, ""); err != nil {
		t.Fatal(err)
	}
	return stats.New(s.Conn())
}

func TestVisitTotals(t *testing.T) {
	q := loadVisits(t)
	got, err := q.Totals(ctx, fixture.Site, cur)
	if err != nil {
		t.Fatal(err)
	}
	c := got.Current
	if c.Visits != 20 || c.TrackedVisits != 12 || c.Bounces != 5 || c.EngagedMS != 150_000 || c.EngagedViews != 50 || c.ScrollSum != 2400 || c.ScrollViews != 40 {
		t.Fatalf("current: %+v", c)
	}
	if p := got.Previous; p.Visits != 5 || p.Bounces != 4 {
		t.Fatalf("previous: %+v", p)
	}
	m := c.Metrics(true)
	check := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || *got < want-1e-9 || *got > want+1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("bounce rate", m.BounceRate, 5.0/12)
	check("visit duration", m.VisitDuration, 150.0/20)
	check("views per visit", m.ViewsPerVisit, 60.0/20)
	check("time on page", m.TimeOnPage, 150.0/50)
	check("scroll depth", m.ScrollDepth, 60)
	// A withheld count takes its rates with it.
	c.Withheld = stats.FieldBounces
	if c.Metrics(true).BounceRate != nil {
		t.Error("a bounce rate from withheld bounces")
	}
	if m := (stats.WebCounts{Pageviews: 3}).Metrics(true); m.BounceRate != nil || m.ViewsPerVisit != nil || m.VisitDuration != nil {
		t.Errorf("rates without visits: %+v", m)
	}
}

func TestEntryAndExitPages(t *testing.T) {
	q := loadVisits(t)
	f := func(m stats.Measure, k int, want []string, wantOther int64) stats.Breakdown {
		t.Helper()
		b, err := q.Breakdown(ctx, stats.BreakdownQuery{Site: fixture.Site, Dimension: "path", Range: cur, Limit: 10, K: k, Measure: m})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range b.Rows {
			got = append(got, r.Value)
		}
		if len(got) != len(want) {
			t.Fatalf("measure %d, k %d: rows %v, want %v", m, k, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("measure %d, k %d: rows %v, want %v", m, k, got, want)
			}
		}
		if wantOther == 0 && b.Other != nil || wantOther != 0 && (b.Other == nil || m.Of(b.Other.WebCounts) != wantOther) {
			t.Fatalf("measure %d, k %d: other %+v, want %d", m, k, b.Other, wantOther)
		}
		return b
	}
	// Entry pages, by visits; k folds /rare (2 visits) and /docs (4).
	f(stats.MeasureVisits, 0, []string{"/", "/docs", "/rare"}, 0)
	f(stats.MeasureVisits, 3, []string{"/", "/docs"}, 0)
	f(stats.MeasureVisits, 5, []string{"/"}, 6) // /docs and /rare fold into 6
	// Exit pages, by exits: /docs's taken-back exit is summed (7).
	b := f(stats.MeasureExits, 0, []string{"/", "/docs", "/rare"}, 0)
	if b.Rows[1].Exits != 7 {
		t.Errorf("/docs exits %d, want 7", b.Rows[1].Exits)
	}
	if tp := b.Rows[1].Metrics(false).TimeOnPage; tp == nil || *tp != 6 {
		t.Errorf("/docs time on page %v, want 6 s", tp)
	}
	if sd := b.Rows[1].Metrics(false).ScrollDepth; sd == nil || *sd != 80 {
		t.Errorf("/docs scroll depth %v, want 80", sd)
	}
}

func TestLanguages(t *testing.T) {
	q := loadVisits(t)
	b, err := q.Breakdown(ctx, stats.BreakdownQuery{Site: fixture.Site, Dimension: "language", Range: cur, Limit: 10, Measure: stats.MeasureHits})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rows) != 2 || b.Rows[0].Value != "de" || b.Rows[0].Visits != 11 || b.Rows[1].Value != "en" {
		t.Fatalf("languages: %+v", b.Rows)
	}
}

func TestAccessTimes(t *testing.T) {
	q := loadVisits(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cells, err := q.AccessTimes(ctx, fixture.Site, cur, berlin)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 168 || cells[0].Weekday != time.Monday || cells[0].Hour != 0 || cells[167].Weekday != time.Sunday || cells[167].Hour != 23 {
		t.Fatalf("%d cells, first %v %d, last %v %d", len(cells), cells[0].Weekday, cells[0].Hour, cells[167].Weekday, cells[167].Hour)
	}
	// fixture.Day is Tuesday 2026-03-10: 10:00 UTC is 11:00 in Berlin
	// (CET), the next day's 15:00 UTC is Wednesday 16:00.
	tue, wed := cells[stats.CellIndex(time.Tuesday, 11)], cells[stats.CellIndex(time.Wednesday, 16)]
	if tue.Pageviews != 40 || tue.Visits != 12 || wed.Pageviews != 20 {
		t.Fatalf("Tuesday 11:00 %+v, Wednesday 16:00 %+v", tue.WebCounts, wed.WebCounts)
	}
	var sum int64
	for _, c := range cells {
		sum += c.Pageviews
	}
	if sum != 60 {
		t.Fatalf("cells sum to %d page views, want 60 (the previous period stays out)", sum)
	}
}
