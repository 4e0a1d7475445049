package stats_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"tally/dashboards/stats"
	"tally/internal/fixture"
)

var (
	ctx = context.Background()
	cur = stats.Range{Start: fixture.Day, End: fixture.Day.AddDate(0, 0, 2)}
)

func TestTotalsAndPreviousPeriod(t *testing.T) {
	q := stats.New(fixture.Load(t).Conn())
	got, err := q.Totals(ctx, fixture.Site, cur)
	if err != nil {
		t.Fatal(err)
	}
	want := stats.Totals{
		Current:  stats.WebCounts{Hits: 165, Pageviews: 150, Visitors: 60},
		Previous: stats.WebCounts{Hits: 60, Pageviews: 60, Visitors: 30},
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	got, err = q.Totals(ctx, "nobody.example", cur)
	if err != nil || got != (stats.Totals{}) {
		t.Fatalf("unknown site: got %+v, %v; want zeros", got, err)
	}
}

func TestSeries(t *testing.T) {
	q := stats.New(fixture.Load(t).Conn())
	pts, err := q.Series(ctx, stats.SeriesQuery{Site: fixture.Site, Range: cur, Interval: stats.Daily})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].Pageviews != 100 || pts[1].Pageviews != 50 || pts[0].Visitors != 40 {
		t.Fatalf("daily: got %+v", pts)
	}
	if !pts[1].Start.Equal(fixture.Day.AddDate(0, 0, 1)) {
		t.Fatalf("second bucket starts %v", pts[1].Start)
	}

	// Hourly, zero-filled.
	pts, err = q.Series(ctx, stats.SeriesQuery{Site: fixture.Site, Range: cur, Interval: stats.Hourly})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 48 || pts[10].Pageviews != 100 || pts[24+15].Pageviews != 50 || pts[11].Pageviews != 0 {
		t.Fatalf("hourly: got %d points, [10]=%+v [39]=%+v", len(pts), pts[10], pts[39])
	}

	// In New York (UTC-4/-5) the 10:00 UTC hour is on the same day, the
	// range starts the evening before, so there are three local days.
	ny, _ := time.LoadLocation("America/New_York")
	pts, err = q.Series(ctx, stats.SeriesQuery{Site: fixture.Site, Range: cur, Interval: stats.Daily, Location: ny})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 || pts[0].Pageviews != 0 || pts[1].Pageviews != 100 || pts[2].Pageviews != 50 {
		t.Fatalf("New York days: got %+v", pts)
	}

	// One breakdown value over time.
	pts, err = q.Series(ctx, stats.SeriesQuery{Site: fixture.Site, Range: cur, Interval: stats.Daily, Dimension: "path", Value: "/pricing"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].Pageviews != 25 || pts[1].Pageviews != 15 {
		t.Fatalf("/pricing: got %+v", pts)
	}
	var ie *stats.InputError
	_, err = q.Series(ctx, stats.SeriesQuery{Site: fixture.Site, Range: cur, Dimension: "path", Value: "/rare1", K: 5})
	if !errors.As(err, &ie) {
		t.Fatalf("series of a folded value: got %v, want an InputError", err)
	}
}

func TestBreakdownOrderAndFolding(t *testing.T) {
	q := stats.New(fixture.Load(t).Conn())
	values := func(b stats.Breakdown) []string {
		var v []string
		for _, r := range b.Rows {
			v = append(v, r.Value)
		}
		return v
	}
	bq := stats.BreakdownQuery{Site: fixture.Site, Dimension: "path", Range: cur, Limit: 10}

	b, err := q.Breakdown(ctx, bq)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/", "/pricing", "/blog/a", "/rare1", "/rare2", "/rare3"}; !reflect.DeepEqual(values(b), want) {
		t.Fatalf("k=0: got %v, want %v", values(b), want)
	}
	if b.Rows[1].Pageviews != 40 || b.Rows[1].Visitors != 15 || b.Other != nil {
		t.Fatalf("k=0: /pricing %+v other %+v", b.Rows[1], b.Other)
	}

	// /blog/a has 10 visitors, /pricing 15 but /rare1 and /rare2 tie at 2:
	// ties are broken by page views, then value.
	bq.K = 5 // rare rows fold into (other) with 5 visitors: shown
	b, err = q.Breakdown(ctx, bq)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/", "/pricing", "/blog/a"}; !reflect.DeepEqual(values(b), want) {
		t.Fatalf("k=5: got %v", values(b))
	}
	if b.Other == nil || b.Other.Value != stats.OtherValue || b.Other.Visitors != 5 || b.Other.Pageviews != 10 || b.Folded != 3 {
		t.Fatalf("k=5: other %+v folded %d", b.Other, b.Folded)
	}

	bq.K = 6 // (other) would have 5 < 6 visitors: withheld
	b, err = q.Breakdown(ctx, bq)
	if err != nil {
		t.Fatal(err)
	}
	if b.Other != nil || b.Folded != 3 || len(b.Rows) != 3 {
		t.Fatalf("k=6: rows %v other %+v folded %d", values(b), b.Other, b.Folded)
	}

	bq.K, bq.Limit, bq.Filter = 0, 1, "PRIC"
	b, err = q.Breakdown(ctx, bq)
	if err != nil || !reflect.DeepEqual(values(b), []string{"/pricing"}) {
		t.Fatalf("filter: got %v, %v", values(b), err)
	}

	// A filtered answer says nothing of what it does not list: "rare"
	// matches three folded values, and the answer is as for no match.
	for _, f := range []string{"rare", "no value has this"} {
		b, err = q.Breakdown(ctx, stats.BreakdownQuery{Site: fixture.Site, Dimension: "path", Range: cur, Limit: 10, K: 5, Filter: f})
		if err != nil || len(b.Rows) != 0 || b.Other != nil || b.Folded != 0 {
			t.Fatalf("filter %q at k=5: %+v, %v", f, b, err)
		}
	}

	// Counting hits (anonymous mode), /rare1 (5 hits, 2 visitors) reaches
	// k = 5, and /rare2 and /rare3 make an (other) of 3 + 2 hits.
	b, err = q.Breakdown(ctx, stats.BreakdownQuery{Site: fixture.Site, Dimension: "path", Range: cur, Limit: 10, K: 5, Measure: stats.MeasureHits})
	if err != nil || !reflect.DeepEqual(values(b), []string{"/", "/pricing", "/blog/a", "/rare1"}) || b.Other == nil || b.Other.Hits != 5 || b.Folded != 2 {
		t.Fatalf("k=5 by hits: %v other %+v folded %d, %v", values(b), b.Other, b.Folded, err)
	}

	// Hit-only dimensions rank and fold by hits.
	b, err = q.Breakdown(ctx, stats.BreakdownQuery{Site: fixture.Site, Dimension: "consent", Range: cur, Limit: 10, K: 40})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"unknown", "granted"}; !reflect.DeepEqual(values(b), want) || b.Other != nil || b.Folded != 1 {
		t.Fatalf("consent k=40: got %v other %+v", values(b), b.Other)
	}
}

func TestBadInput(t *testing.T) {
	q := stats.New(fixture.Empty(t).Conn())
	var ie *stats.InputError
	for name, f := range map[string]func() error{
		"unknown dimension": func() error {
			_, err := q.Breakdown(ctx, stats.BreakdownQuery{Site: "a", Dimension: "ip", Range: cur, Limit: 5})
			return err
		},
		"huge limit": func() error {
			_, err := q.Breakdown(ctx, stats.BreakdownQuery{Site: "a", Dimension: "path", Range: cur, Limit: 1e6})
			return err
		},
		"empty range": func() error {
			_, err := q.Totals(ctx, "a", stats.Range{Start: cur.End, End: cur.Start})
			return err
		},
		"hourly year": func() error {
			_, err := q.Series(ctx, stats.SeriesQuery{Site: "a", Range: stats.Range{Start: cur.Start.AddDate(-1, 0, 0), End: cur.End}, Interval: stats.Hourly})
			return err
		},
		"email dimension": func() error {
			_, err := q.CampaignBreakdown(ctx, "a", "c", "path", cur.Start, 10, 0)
			return err
		},
	} {
		if err := f(); !errors.As(err, &ie) {
			t.Errorf("%s: got %v, want an InputError", name, err)
		}
	}
}

func TestEmptyDatabase(t *testing.T) {
	q := stats.New(fixture.Empty(t).Conn())
	b, err := q.Breakdown(ctx, stats.BreakdownQuery{Site: fixture.Site, Dimension: "path", Range: cur, Limit: 10, K: 5})
	if err != nil || len(b.Rows) != 0 || b.Other != nil || b.Folded != 0 {
		t.Fatalf("got %+v, %v", b, err)
	}
	cs, err := q.Campaigns(ctx, fixture.Site, cur.Start, 10)
	if err != nil || len(cs) != 0 {
		t.Fatalf("got %+v, %v", cs, err)
	}
}

func TestCampaigns(t *testing.T) {
	q := stats.New(fixture.Load(t).Conn())
	since := fixture.Day.AddDate(0, 0, -30)
	cs, err := q.Campaigns(ctx, fixture.Site, since, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Name != fixture.Campaign || cs[1].Name != "winter" {
		t.Fatalf("got %+v", cs)
	}
	s := cs[0]
	if s.Sent != 1000 || s.Opens != 400 || s.UniqueOpens != 250 || s.MachineOpens != 50 || s.OpenRate != 0.25 {
		t.Fatalf("spring: %+v", s)
	}
	if !s.First.Equal(fixture.Day.Add(9*time.Hour)) || !s.Last.Equal(fixture.Day.Add(35*time.Hour)) {
		t.Fatalf("spring first %v last %v", s.First, s.Last)
	}

	if _, ok, err := q.Campaign(ctx, fixture.Site, "secret", since); ok || err != nil {
		t.Fatalf("another site's campaign: ok=%v err=%v", ok, err)
	}

	pts, err := q.CampaignSeries(ctx, fixture.Site, fixture.Campaign, cur, stats.Daily, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].Sent != 1000 || pts[0].UniqueOpens != 200 || pts[1].UniqueOpens != 50 {
		t.Fatalf("series: %+v", pts)
	}

	b, err := q.CampaignBreakdown(ctx, fixture.Site, fixture.Campaign, "client", since, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rows) != 2 || b.Rows[0].Value != "Gmail" || b.Rows[1].Value != "Apple Mail" || b.Other != nil || b.Folded != 1 {
		t.Fatalf("clients k=3: %+v", b)
	}
}

func TestTotalsNominalPeriod(t *testing.T) {
	q := stats.New(fixture.Load(t).Conn())
	// "Today" until 12:00 on Day+1 is compared with Day until 12:00.
	r := stats.Range{Start: fixture.Day.AddDate(0, 0, 1), End: fixture.Day.Add(36 * time.Hour), Period: 24 * time.Hour}
	got, err := q.Totals(ctx, fixture.Site, r)
	if err != nil {
		t.Fatal(err)
	}
	if got.Current.Pageviews != 0 || got.Previous.Pageviews != 100 {
		t.Fatalf("got %+v", got)
	}
}
