package dashboards_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/aggregator"
	"tally/counter"
	"tally/dashboards"
	"tally/internal/fixture"
	"tally/sites"
)

// newVisitServer is newServer on visit counters written through the sink
// (every column): two days in the fixture's range, one in the previous
// period.
func newVisitServer(t *testing.T, k int) *server {
	t.Helper()
	sink := fixture.Empty(t)
	b := aggregator.NewBatch()
	add := func(day, hour int, dim, value string, c counter.WebCounts) {
		key := counter.WebKey{Site: "example.com", Hour: fixture.Day.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour).Unix(), Dimension: dim, Value: value}
		old := b.Web[key]
		old.Add(c)
		b.Web[key] = old
	}
	add(0, 10, "total", "", counter.WebCounts{Hits: 60, Pageviews: 60, Visitors: 30, Visits: 20, TrackedVisits: 20, Bounces: 8, EngagedMS: 900_000, EngagedViews: 60, ScrollSum: 3000, ScrollViews: 50})
	add(-1, 9, "total", "", counter.WebCounts{Hits: 30, Pageviews: 30, Visitors: 15, Visits: 10, TrackedVisits: 10, Bounces: 6, EngagedMS: 300_000, EngagedViews: 30})
	add(0, 10, "path", "/", counter.WebCounts{Hits: 35, Pageviews: 35, Visitors: 20, Visits: 15, Exits: 6, EngagedMS: 420_000, EngagedViews: 35, ScrollSum: 2100, ScrollViews: 30})
	add(0, 10, "path", "/pricing", counter.WebCounts{Hits: 25, Pageviews: 25, Visitors: 12, Visits: 5, Exits: 14, EngagedMS: 480_000, EngagedViews: 25, ScrollSum: 900, ScrollViews: 20})
	add(0, 10, "language", "de", counter.WebCounts{Hits: 40, Pageviews: 40, Visitors: 20, Visits: 14})
	add(0, 10, "language", "fr", counter.WebCounts{Hits: 20, Pageviews: 20, Visitors: 10, Visits: 6})
	add(0, 10, "source", "Google", counter.WebCounts{Hits: 30, Pageviews: 30, Visitors: 15, Visits: 12})
	if err := sink.Write(context.Background(), b, ""); err != nil {
		t.Fatal(err)
	}
	reg, err := sites.Parse(strings.NewReader(`{"sites":[
		{"domain":"example.com","consent_mode":"strict","timezone":"Europe/Berlin","min_count_k":` + strconv.Itoa(k) + `,"api_tokens":["` + apiTokenHash + `"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dashboards.New(dashboards.Options{Conn: sink.Conn(), Sites: reg, AdminPassword: password, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	d.Register(app)
	return &server{t: t, app: app}
}

// TestVisitMetricsInTheAPI: the totals carry visits and the rates with the
// previous period's and the changes; breakdowns rank by visits or exits;
// the access times come in the site's zone.
func TestVisitMetricsInTheAPI(t *testing.T) {
	s := newVisitServer(t, 5)
	cookie, _ := s.signIn()
	type metrics struct {
		BounceRate    *float64 `json:"bounce_rate"`
		VisitDuration *float64 `json:"visit_duration"`
		ViewsPerVisit *float64 `json:"views_per_visit"`
		TimeOnPage    *float64 `json:"time_on_page"`
		ScrollDepth   *float64 `json:"scroll_depth"`
	}
	var tot struct {
		Current struct {
			Visits  int64   `json:"visits"`
			Metrics metrics `json:"metrics"`
		} `json:"current"`
		Change struct {
			Visits     *float64 `json:"visits"`
			BounceRate *float64 `json:"bounce_rate"`
		} `json:"change"`
		Notes map[string]string `json:"notes"`
	}
	r := s.adminAPI("/api/stats/example.com/totals?"+rangeQ, cookie)
	if err := json.Unmarshal([]byte(r.body), &tot); err != nil || r.status != 200 {
		t.Fatalf("totals: %d %s", r.status, r.body)
	}
	m := tot.Current.Metrics
	if tot.Current.Visits != 20 || m.BounceRate == nil || *m.BounceRate != 0.4 || *m.VisitDuration != 45 || *m.ViewsPerVisit != 3 || *m.TimeOnPage != 15 || *m.ScrollDepth != 60 {
		t.Fatalf("totals: %s", r.body)
	}
	if tot.Change.Visits == nil || *tot.Change.Visits != 1 || tot.Change.BounceRate == nil || *tot.Change.BounceRate > -0.33 || *tot.Change.BounceRate < -0.34 {
		t.Fatalf("changes: %s", r.body)
	}
	if !strings.Contains(tot.Notes["exits"], "estimate") || !strings.Contains(tot.Notes["bounce_rate"], "tracker") {
		t.Errorf("notes: %v", tot.Notes)
	}

	for _, c := range []struct{ by, first string }{{"visits", "/"}, {"exits", "/pricing"}} {
		var b struct {
			Rows []struct {
				Value   string  `json:"value"`
				Visits  int64   `json:"visits"`
				Exits   int64   `json:"exits"`
				Metrics metrics `json:"metrics"`
			} `json:"rows"`
		}
		r := s.adminAPI("/api/stats/example.com/breakdown/path?by="+c.by+"&"+rangeQ, cookie)
		if err := json.Unmarshal([]byte(r.body), &b); err != nil || r.status != 200 || len(b.Rows) != 2 || b.Rows[0].Value != c.first {
			t.Fatalf("path by %s: %d %s", c.by, r.status, r.body)
		}
		if tp := b.Rows[0].Metrics.TimeOnPage; tp == nil || (c.by == "exits" && *tp != 19.2) {
			t.Errorf("path by %s: time on page %v", c.by, tp)
		}
	}
	if r := s.adminAPI("/api/stats/example.com/breakdown/source?by=exits&"+rangeQ, cookie); r.status != 400 {
		t.Errorf("sources by exits: %d %s", r.status, r.body)
	}
	if r := s.adminAPI("/api/stats/example.com/breakdown/language?"+rangeQ, cookie); r.status != 200 || !strings.Contains(r.body, `"value":"de","name":"German"`) {
		t.Errorf("languages: %d %s", r.status, r.body)
	}

	var at struct {
		Cells []struct {
			Weekday   int   `json:"weekday"`
			Hour      int   `json:"hour"`
			Pageviews int64 `json:"pageviews"`
			BelowK    bool  `json:"below_k"`
		} `json:"cells"`
	}
	r = s.adminAPI("/api/stats/example.com/access-times?"+rangeQ, cookie)
	if err := json.Unmarshal([]byte(r.body), &at); err != nil || len(at.Cells) != 168 {
		t.Fatalf("access times: %d %s", r.status, r.body)
	}
	// 2026-03-10 10:00 UTC is a Tuesday, 11:00 in Berlin.
	for _, c := range at.Cells {
		if c.Weekday == 2 && c.Hour == 11 {
			if c.Pageviews != 60 || c.BelowK {
				t.Errorf("Tuesday 11:00: %+v", c)
			}
		} else if !c.BelowK {
			t.Errorf("an empty hour shown: %+v", c)
		}
	}

	// A token's view: the same cells, noisy, and the small ones withheld.
	r = s.api("/api/stats/example.com/access-times?"+rangeQ, apiToken)
	if r.status != 200 || !strings.Contains(r.body, `"exact":false`) {
		t.Fatalf("shared access times: %d %s", r.status, r.body)
	}
}

// TestVisitMetricsOnThePage: the site page shows the visit figures, the
// entry and exit pages, time on page and scroll depth, languages and the
// heat map.
func TestVisitMetricsOnThePage(t *testing.T) {
	s := newVisitServer(t, 5)
	cookie, _ := s.signIn()
	r := s.get("/sites/example.com?"+rangeQ, cookie)
	if r.status != 200 {
		t.Fatalf("site page: %d", r.status)
	}
	for _, want := range []string{
		`data-kpi="visits">20<`, `data-kpi="bounce-rate">40.0%<`, `data-kpi="visit-duration">45 s<`, `data-kpi="views-per-visit">3.0<`,
		`id="entry"`, `id="exit"`, `Entry pages`, `Exit pages`, `id="language"`, `German`,
		`data-col="time">12 s<`, `data-col="scroll">70%<`, // the / row: 420 s over 35 views, 2100 over 30
		`id="access-times"`, `data-views="60"`, `Estimate:`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// Bounce rate went from 60% to 40%.
	if !strings.Contains(r.body, `>−33%<`) {
		t.Errorf("no comparison for the bounce rate")
	}
}
