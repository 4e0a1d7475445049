package grafana_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tally/aggregator/clickhouse"
	"tally/dashboards/grafana"
	"tally/internal/fixture"
)

var ctx = context.Background()

const k = 5

// load fills a database with the fixture plus rows made to be singled out,
// and prepares the views with k = 5 for the fixture's site.
func load(t *testing.T) *clickhouse.Sink {
	t.Helper()
	s := fixture.Load(t)
	day := fixture.Day.Add(10 * time.Hour)
	fixture.Insert(t, s, []fixture.Web{
		// On the fixture's first day: one visitor from Bremen; a campaign
		// tag of one visitor and one of three; one of six that must be
		// folded too, or the total minus the rows would tell "4".
		{Site: fixture.Site, Hour: day, Dimension: "region", Value: "DE-HB", Hits: 1, Pageviews: 1, Visitors: 1},
		{Site: fixture.Site, Hour: day, Dimension: "utm_source", Value: "alice-smith", Hits: 1, Pageviews: 1, Visitors: 1},
		{Site: fixture.Site, Hour: day, Dimension: "utm_source", Value: "three", Hits: 3, Pageviews: 3, Visitors: 3},
		{Site: fixture.Site, Hour: day, Dimension: "utm_source", Value: "six", Hits: 6, Pageviews: 6, Visitors: 6},
		{Site: fixture.Site, Hour: day, Dimension: "utm_source", Value: "big", Hits: 50, Pageviews: 50, Visitors: 40},
		// A day whose whole traffic is two visitors: its total is withheld.
		{Site: fixture.Site, Hour: day.AddDate(0, 0, -5), Dimension: "total", Value: "", Hits: 2, Pageviews: 2, Visitors: 2},
		// Today, still being counted: not shown.
		{Site: fixture.Site, Hour: time.Now().UTC().Truncate(time.Hour), Dimension: "total", Value: "", Hits: 50, Pageviews: 50, Visitors: 50},
	}, []fixture.Email{
		// A campaign named after its one recipient.
		{Site: fixture.Site, Campaign: "alice-smith", Hour: day, Dimension: "total", Sent: 1},
		{Site: fixture.Site, Campaign: "alice-smith", Hour: day.Add(5 * time.Hour), Dimension: "total", Opens: 1, UniqueOpens: 1},
	})
	if err := grafana.Prepare(ctx, s.Conn(), []grafana.Site{{Domain: fixture.Site, K: k}}); err != nil {
		t.Fatal(err)
	}
	return s
}

type dashboard struct {
	Panels []struct {
		Title   string
		Targets []struct{ RawSQL string }
	}
	Templating struct {
		List []struct{ Name, Query string }
	}
}

func readDashboard(t *testing.T) dashboard {
	var d dashboard
	if err := json.Unmarshal(grafana.Dashboard, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// expand does what Grafana does with the dashboard's macros and variables.
func expand(sql, site string) string {
	from, to := fixture.Day.Format(time.DateOnly), fixture.Day.AddDate(0, 0, 1).Format(time.DateOnly)
	sql = regexp.MustCompile(`\$__dateFilter\((\w+)\)`).ReplaceAllString(sql, "$1 >= toDate('"+from+"') AND $1 <= toDate('"+to+"')")
	// Grafana's percentencode keeps only unreserved characters, like
	// encodeURIComponent; QueryEscape differs only in ' ' -> '+'.
	return strings.ReplaceAll(sql, "${site:percentencode}", url.QueryEscape(site))
}

// TestDashboardQueriesRun runs every panel's SQL, with Grafana's macros
// expanded, against the views on the real ClickHouse.
func TestDashboardQueriesRun(t *testing.T) {
	d := readDashboard(t)
	conn := load(t).Conn()
	var n int
	run := func(title, sql string) int {
		rows, err := conn.Query(ctx, expand(sql, fixture.Site))
		if err != nil {
			t.Errorf("%s: %v\n%s", title, err, sql)
			return 0
		}
		var got int
		for rows.Next() {
			got++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", title, err)
		}
		rows.Close()
		n++
		return got
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			run(p.Title, tg.RawSQL)
		}
	}
	if got := run("site variable", d.Templating.List[0].Query); got != 1 {
		t.Errorf("site variable lists %d sites, want 1", got)
	}
	if n < 16 {
		t.Fatalf("ran only %d queries", n)
	}
	var pv int64
	conn.QueryRow(ctx, expand("SELECT sum(pageviews) FROM grafana_web_daily WHERE site = '${site:percentencode}' AND dimension = 'total' AND $__dateFilter(day)", fixture.Site)).Scan(&pv)
	if pv != 150 {
		t.Fatalf("page views over the fixture's range: %d, want 150", pv)
	}
}

// TestPanelsReadOnlyViewsAndEscapeTheSite checks every panel's SQL: it
// reads the views, never a counter table, and quotes the site through
// percent-encoding, so a crafted ?var-site= cannot leave the string.
func TestPanelsReadOnlyViewsAndEscapeTheSite(t *testing.T) {
	d := readDashboard(t)
	conn := load(t).Conn()
	var grouped int
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			sql := tg.RawSQL
			if strings.Contains(sql, "_counters") {
				t.Errorf("%s reads a counter table: %s", p.Title, sql)
			}
			if strings.Count(sql, "${site") != strings.Count(sql, "'${site:percentencode}'") || !strings.Contains(sql, "${site") {
				t.Errorf("%s: the site is not quoted as '${site:percentencode}': %s", p.Title, sql)
			}
			count := func(site string) (n uint64) {
				if err := conn.QueryRow(ctx, "SELECT count() FROM ("+expand(sql, site)+")").Scan(&n); err != nil {
					t.Errorf("%s with site %q: %v", p.Title, site, err)
				}
				return n
			}
			// A crafted site answers what an unknown one does: nothing
			// (aggregates answer one row of zeros either way).
			none := count("nobody.example")
			if strings.Contains(sql, "GROUP BY value") && count(fixture.Site) > none {
				grouped++ // the comparison below can tell a leak
			}
			for _, evil := range []string{`x' OR 1=1 --`, `x\' OR 1=1 --`, `example.com' OR site != '`, `example.com' UNION ALL SELECT value FROM web_counters --`} {
				if got := count(evil); got != none {
					t.Errorf("%s with site %q: %d rows, want %d as for an unknown site", p.Title, evil, got, none)
				}
			}
		}
	}
	if grouped < 8 {
		t.Fatalf("only %d panels list rows for the real site: the injection check proves little", grouped)
	}
}

// TestViewsApplyK reads the views as the Grafana user would, with queries
// of its own: no row below k, the secondary folding that keeps "total minus
// the shown rows" from telling a small count, and the one-recipient
// campaign without opens.
func TestViewsApplyK(t *testing.T) {
	conn := load(t).Conn()
	rows, err := conn.Query(ctx, "SELECT day, dimension, value, hits, visitors FROM grafana_web_daily WHERE site = ?", fixture.Site)
	if err != nil {
		t.Fatal(err)
	}
	type cell struct{ hits, visitors int64 }
	days := map[string]map[string]cell{}
	for rows.Next() {
		var day time.Time
		var dim, value string
		var c cell
		if err := rows.Scan(&day, &dim, &value, &c.hits, &c.visitors); err != nil {
			t.Fatal(err)
		}
		m := c.visitors
		if dim == "consent" || dim == "filtered" || dim == "event" || m <= 0 {
			m = c.hits
		}
		if m < k {
			t.Errorf("%s %s %q: measure %d below k", day.Format(time.DateOnly), dim, value, m)
		}
		if value == "DE-HB" || value == "alice-smith" || value == "three" || value == "six" {
			t.Errorf("%s %s: %q (below k, or the value that would give the small one away) is shown", day.Format(time.DateOnly), dim, value)
		}
		key := day.Format(time.DateOnly) + "/" + dim
		if days[key] == nil {
			days[key] = map[string]cell{}
		}
		days[key][value] = c
	}
	rows.Close()
	if len(days) < 10 {
		t.Fatalf("only %d (day, dimension) groups: the view lost rows", len(days))
	}
	// The day whose total was 2 visitors has no total at all.
	if _, ok := days[fixture.Day.AddDate(0, 0, -5).Format(time.DateOnly)+"/total"]; ok {
		t.Error("a day total of 2 visitors is shown")
	}
	// utm_source on the first day: big is shown, the rest is one (other)
	// of 10 hits (1 + 3 + 6), never 4.
	us := days[fixture.Day.Format(time.DateOnly)+"/utm_source"]
	if us["big"].hits != 50 || us["(other)"].hits != 10 || len(us) != 2 {
		t.Errorf("utm_source: %+v", us)
	}

	// The one-recipient campaign: the day of its send has a row with no
	// opens; the day of its open (no sends) has no row at all.
	rows, err = conn.Query(ctx, "SELECT day, sent, opens, unique_opens FROM grafana_email_daily WHERE site = ? AND campaign = 'alice-smith'", fixture.Site)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for rows.Next() {
		var day time.Time
		var sent int64
		var opens, unique *int64
		if err := rows.Scan(&day, &sent, &opens, &unique); err != nil {
			t.Fatal(err)
		}
		if n++; sent != 1 || opens != nil || unique != nil {
			t.Errorf("one-recipient campaign on %s: sent %d, opens %v, unique %v; want the send and no opens", day.Format(time.DateOnly), sent, opens, unique)
		}
	}
	rows.Close()
	if n != 1 {
		t.Errorf("one-recipient campaign: %d rows, want the day of its send only", n)
	}
	var spring uint64
	if err := conn.QueryRow(ctx, "SELECT toUInt64(sum(unique_opens)) FROM grafana_email_daily WHERE site = ? AND campaign = ?", fixture.Site, fixture.Campaign).Scan(&spring); err != nil || spring != 250 {
		t.Errorf("spring campaign: %d unique opens, %v; want 250", spring, err)
	}
	// Today is not shown until it is over.
	var today uint64
	conn.QueryRow(ctx, "SELECT count() FROM grafana_web_daily WHERE site = ? AND day >= toDate(now(), 'UTC')", fixture.Site).Scan(&today)
	if today != 0 {
		t.Errorf("%d rows of today", today)
	}
	// A site that is not in the list is not in the views.
	var other uint64
	conn.QueryRow(ctx, "SELECT count() FROM grafana_web_daily WHERE site = ?", fixture.OtherSite).Scan(&other)
	if other != 0 {
		t.Errorf("%s (not declared to Grafana) has %d rows", fixture.OtherSite, other)
	}
}
