package privacy

import (
	"math"
	"testing"
	"time"

	"tally/dashboards/stats"
	"tally/sites"
)

var testKey = []byte("privacy-test-key-0123456789abcdef")

func newTestNoise(t *testing.T) *Noise {
	n, err := NewNoise(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNoiseIsFixedAndCalibrated: one draw per (thing, node), the same every
// time; standard deviation k/2 per node; mean zero.
func TestNoiseIsFixedAndCalibrated(t *testing.T) {
	if _, err := NewNoise([]byte("short")); err == nil {
		t.Fatal("accepted a short key")
	}
	n := newTestNoise(t)
	other, _ := NewNoise([]byte("another-key-0123456789abcdefghijkl"))
	leaf := []node{{level: 0, index: 20000}}
	a, b := n.sum([]byte("w\x00site\x00\x00path\x00/a"), leaf, 5), n.sum([]byte("w\x00site\x00\x00path\x00/a"), leaf, 5)
	if a != b {
		t.Fatalf("the same draw twice: %v then %v", a, b)
	}
	if c := other.sum([]byte("w\x00site\x00\x00path\x00/a"), leaf, 5); c == a {
		t.Fatal("another key draws the same noise")
	}
	if z := n.sum([]byte("x"), leaf, 0); z != ([4]float64{}) {
		t.Fatalf("k = 0 adds noise %v", z)
	}
	const k, draws = 6, 20000
	var sum, sq float64
	for i := range draws {
		v := n.sum([]byte{byte(i), byte(i >> 8)}, []node{{level: 0, index: int64(i)}}, k)
		for _, x := range v {
			sum += x
			sq += x * x
		}
	}
	mean, sd := sum/(4*draws), math.Sqrt(sq/(4*draws))
	if math.Abs(mean) > 0.1 || math.Abs(sd-k/2.0) > 0.1*k/2 {
		t.Fatalf("noise mean %.3f, standard deviation %.3f; want 0 and %.1f", mean, sd, k/2.0)
	}
}

var (
	day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	r2   = stats.Range{Start: day0, End: day0.AddDate(0, 0, 2)}
	site = &sites.Site{Domain: "example.com", Mode: sites.ModeStrict, MinCountK: 5, Location: time.UTC}
)

func TestTotalsAndSeries(t *testing.T) {
	admin, shared := Admin(site), Shared(site, newTestNoise(t))
	tot := stats.Totals{Current: stats.WebCounts{Hits: 100, Pageviews: 90, Visitors: 40}, Previous: stats.WebCounts{Hits: 4, Pageviews: 4, Visitors: 4}}
	got := admin.Totals(tot, r2)
	want := tot.Current
	want.Withheld = stats.AllVisitFields // no visit counters: 0 is below k
	if got.Current != want || !got.Previous.BelowK || got.Previous.Hits != 0 {
		t.Fatalf("admin: %+v", got)
	}
	got = shared.Totals(tot, r2)
	if got.Current == tot.Current || math.Abs(float64(got.Current.Visitors-40)) > 20 || !got.Previous.BelowK {
		t.Fatalf("shared: %+v", got)
	}
	if again := shared.Totals(tot, r2); again != got {
		t.Fatalf("shared twice: %+v then %+v", got, again)
	}
	// k = 0 (explicit): the admin's view is exact and unfolded; shared
	// views still fold at the default.
	open := *site
	open.MinCountK = 0
	if got := Admin(&open).Totals(tot, r2); got != tot {
		t.Fatalf("admin with k=0: %+v", got)
	}
	if got := Shared(&open, newTestNoise(t)); got.K != sites.DefaultMinCountK {
		t.Fatalf("shared with k=0 folds at %d", got.K)
	}

	// An hourly series: the bucket of one visitor is withheld, zeros too.
	pts := make([]stats.Point, 3)
	for i := range pts {
		pts[i].Start = day0.Add(time.Duration(i) * time.Hour)
	}
	pts[0].WebCounts = stats.WebCounts{Hits: 1, Pageviews: 1, Visitors: 1}
	pts[2].WebCounts = stats.WebCounts{Hits: 50, Pageviews: 50, Visitors: 30}
	for _, p := range []Policy{admin, shared} {
		out, err := p.Series(pts, stats.Range{Start: day0, End: day0.Add(3 * time.Hour)}, stats.Hourly, "", "")
		if err != nil || !out[0].BelowK || out[0].Visitors != 0 || !out[1].BelowK || out[2].BelowK {
			t.Fatalf("series: %+v, %v", out, err)
		}
	}
	// A value below k has no series at all.
	if _, err := shared.Series(pts[:2], stats.Range{Start: day0, End: day0.Add(2 * time.Hour)}, stats.Hourly, "region", "DE-HB"); err == nil {
		t.Fatal("the series of a value of one visitor was answered")
	}
}

func TestMeasure(t *testing.T) {
	anon := *site
	anon.Mode = sites.ModeAnonymous
	// Anonymous mode records no visitors without consent: k counts hits.
	c := stats.WebCounts{Hits: 30, Pageviews: 30}
	if got := Admin(&anon).Totals(stats.Totals{Current: c}, r2); got.Current.BelowK {
		t.Fatal("anonymous mode: 30 hits without visitors withheld")
	}
	// Strict mode: k counts visitors, hits only where a row has none.
	if got := Admin(site).Totals(stats.Totals{Current: stats.WebCounts{Hits: 30, Pageviews: 30, Visitors: 2}}, r2); !got.Current.BelowK {
		t.Fatal("strict mode: 2 visitors shown")
	}
}

func TestBreakdown(t *testing.T) {
	shared := Shared(site, newTestNoise(t))
	b := stats.Breakdown{Dimension: "path", K: 5, Folded: 3,
		Rows: []stats.Row{
			{Value: "/", WebCounts: stats.WebCounts{Hits: 300, Pageviews: 300, Visitors: 200}},
			{Value: "/a", WebCounts: stats.WebCounts{Hits: 110, Pageviews: 110, Visitors: 100}},
		},
		Other: &stats.Row{Value: stats.OtherValue, WebCounts: stats.WebCounts{Hits: 40, Pageviews: 40, Visitors: 30}}}
	d, _ := stats.LookupWeb("path")
	got := shared.Breakdown(b, r2, d)
	if got.Folded != 0 || len(got.Rows) != 2 || got.Rows[0].Value != "/" || got.Other == nil || got.Other.Visitors == 30 && got.Rows[0].Visitors == 200 {
		t.Fatalf("shared breakdown: %+v other %+v", got, got.Other)
	}
	if exact := Admin(site).Breakdown(b, r2, d); exact.Folded != 3 || exact.Rows[0].Visitors != 200 {
		t.Fatalf("admin breakdown: %+v", exact)
	}
}

func TestCampaign(t *testing.T) {
	shared := Shared(site, newTestNoise(t))
	sent := day0.Add(9 * time.Hour)
	w := stats.Range{Start: day0, End: day0.AddDate(0, 0, 3)}
	one := stats.Campaign{Name: "alice", First: sent, Last: sent.Add(5 * time.Hour), FirstSend: sent,
		EmailCounts: stats.EmailCounts{Sent: 1, Opens: 1, UniqueOpens: 1}}
	for _, p := range []Policy{Admin(site), shared} {
		got := p.Campaign(one, w)
		if !got.BelowK || got.Opens != 0 || got.Sent != 1 || got.OpenRate != 0 || !got.Last.IsZero() || !got.First.Equal(day0) {
			t.Fatalf("one-recipient campaign: %+v", got)
		}
		pts := p.CampaignSeries(got, []stats.EmailPoint{{Start: day0, EmailCounts: one.EmailCounts}}, w, stats.Daily)
		if !pts[0].BelowK || pts[0].Opens != 0 {
			t.Fatalf("its series: %+v", pts)
		}
		b := p.CampaignBreakdown(got, stats.EmailBreakdown{Dimension: "region", Rows: []stats.EmailRow{{Value: "DE-HB", EmailCounts: one.EmailCounts}}}, w)
		if len(b.Rows) != 0 || b.Other != nil {
			t.Fatalf("its breakdown: %+v", b)
		}
	}
	// Many sends but fewer than k opens: withheld too.
	few := one
	few.Sent, few.Opens, few.UniqueOpens = 1000, 3, 3
	if got := shared.Campaign(few, w); !got.BelowK {
		t.Fatalf("3 opens shown: %+v", got)
	}
	big := one
	big.Sent, big.Opens, big.UniqueOpens = 1000, 400, 250
	if got := shared.Campaign(big, w); got.BelowK || got.Sent != 1000 || math.Abs(float64(got.UniqueOpens-250)) > 25 {
		t.Fatalf("big campaign: %+v", got)
	}
}

// BenchmarkSharedPage is the noise a shared site page adds to its
// queries: 30-day totals, a 31-point daily series, 13 breakdowns of 10
// rows and (other).
func BenchmarkSharedPage(b *testing.B) {
	n, _ := NewNoise(testKey)
	p := Shared(site, n)
	r := stats.Range{Start: day0, End: day0.AddDate(0, 0, 29).Add(14 * time.Hour), Period: 30 * 24 * time.Hour}
	pts := make([]stats.Point, 30)
	for i := range pts {
		pts[i] = stats.Point{Start: day0.AddDate(0, 0, i), WebCounts: stats.WebCounts{Hits: 900, Pageviews: 800, Visitors: 300}}
	}
	bd := stats.Breakdown{Dimension: "path", K: 5, Other: &stats.Row{Value: stats.OtherValue, WebCounts: stats.WebCounts{Hits: 90, Pageviews: 80, Visitors: 30}}}
	for i := range 10 {
		bd.Rows = append(bd.Rows, stats.Row{Value: "/page/" + string(rune('a'+i)), WebCounts: stats.WebCounts{Hits: 900, Pageviews: 800, Visitors: int64(300 - i)}})
	}
	d, _ := stats.LookupWeb("path")
	tot := stats.Totals{Current: pts[0].WebCounts, Previous: pts[1].WebCounts}
	b.ReportAllocs()
	for b.Loop() {
		p.Totals(tot, r)
		if _, err := p.Series(pts, r, stats.Daily, "", ""); err != nil {
			b.Fatal(err)
		}
		for range 13 {
			p.Breakdown(bd, r, d)
		}
	}
}

// TestVisitCounters: in a row that is shown, each visit counter is a count
// of its own, withheld below k with the sum that goes with it; shared
// views noise them like the other counts, the same way every time.
func TestVisitCounters(t *testing.T) {
	anon := *site
	anon.Mode = sites.ModeAnonymous
	c := stats.WebCounts{Hits: 200, Pageviews: 200, Visits: 80, TrackedVisits: 80, Bounces: 3, Exits: 60,
		EngagedMS: 4_000_000, EngagedViews: 150, ScrollSum: 2, ScrollViews: 2}
	got := Admin(&anon).Totals(stats.Totals{Current: c, Previous: c}, r2).Current
	if got.Visits != 80 || got.Exits != 60 || got.EngagedMS != 4_000_000 {
		t.Fatalf("admin: counts at or above k changed: %+v", got)
	}
	if got.Bounces != 0 || got.ScrollSum != 0 || got.ScrollViews != 0 || got.Withheld != stats.FieldBounces|stats.FieldScrollViews {
		t.Fatalf("admin: counts below k not withheld: %+v", got)
	}
	m := got.Metrics(true)
	if m.BounceRate != nil || m.ScrollDepth != nil || m.TimeOnPage == nil || *m.TimeOnPage < 26.6 || *m.TimeOnPage > 26.7 {
		t.Fatalf("admin metrics: %+v", m)
	}

	shared := Shared(&anon, newTestNoise(t))
	s1 := shared.Totals(stats.Totals{Current: c}, r2).Current
	s2 := shared.Totals(stats.Totals{Current: c}, r2).Current
	if s1 != s2 {
		t.Fatalf("shared twice: %+v then %+v", s1, s2)
	}
	if s1.Withheld&stats.FieldBounces == 0 || s1.Bounces != 0 {
		t.Fatalf("shared: bounces below k shown: %+v", s1)
	}
	if s1.Visits == 80 && s1.Exits == 60 && s1.EngagedMS == 4_000_000 {
		t.Fatalf("shared: visit counters without noise: %+v", s1)
	}
	if math.Abs(float64(s1.Visits-80)) > 20 || math.Abs(float64(s1.EngagedMS-4_000_000)) > 20*engagedUnit {
		t.Fatalf("shared: noise out of scale: %+v", s1)
	}
	// The hits, page views and visitors draw the noise they drew before
	// the visit counters existed.
	old := shared.Totals(stats.Totals{Current: stats.WebCounts{Hits: 200, Pageviews: 200}}, r2).Current
	if old.Hits != s1.Hits || old.Pageviews != s1.Pageviews {
		t.Fatalf("the visit counters moved the other counts' noise: %+v vs %+v", old, s1)
	}
}

func TestAccessTimes(t *testing.T) {
	cells := make([]stats.AccessCell, 168)
	for i := range cells {
		cells[i].Weekday, cells[i].Hour = time.Weekday((i/24+1)%7), i%24
	}
	cells[stats.CellIndex(time.Tuesday, 14)].WebCounts = stats.WebCounts{Hits: 40, Pageviews: 40, Visitors: 20}
	cells[stats.CellIndex(time.Sunday, 3)].WebCounts = stats.WebCounts{Hits: 1, Pageviews: 1, Visitors: 1}
	for _, p := range []Policy{Admin(site), Shared(site, newTestNoise(t))} {
		out := p.AccessTimes(cells, r2)
		tue, sun := out[stats.CellIndex(time.Tuesday, 14)], out[stats.CellIndex(time.Sunday, 3)]
		if tue.BelowK || tue.Pageviews < 20 || !sun.BelowK || sun.Pageviews != 0 || tue.Weekday != time.Tuesday || tue.Hour != 14 {
			t.Fatalf("exact %v: Tuesday 14:00 %+v, Sunday 03:00 %+v", p.Exact(), tue, sun)
		}
		if !out[0].BelowK {
			t.Fatalf("an empty cell shown: %+v", out[0])
		}
	}
}
