package grafana_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"tally/dashboards/grafana"
	"tally/internal/fixture"
)

// TestDashboardQueriesRun runs every panel's SQL, with Grafana's macros
// expanded, on the real ClickHouse over the fixture data.
func TestDashboardQueriesRun(t *testing.T) {
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ RawSQL string }
		}
		Templating struct {
			List []struct{ Name, Query string }
		}
	}
	if err := json.Unmarshal(grafana.Dashboard, &d); err != nil {
		t.Fatal(err)
	}
	conn := fixture.Load(t).Conn()
	from, to := fixture.Day.Unix(), fixture.Day.AddDate(0, 0, 2).Unix()
	expand := strings.NewReplacer(
		"$__timeFilter(hour)", "hour >= toDateTime("+strconv.FormatInt(from, 10)+") AND hour <= toDateTime("+strconv.FormatInt(to, 10)+")",
		"${site}", fixture.Site, "${k}", "5")
	var n int
	run := func(title, sql string) {
		rows, err := conn.Query(context.Background(), expand.Replace(sql))
		if err != nil {
			t.Errorf("%s: %v\n%s", title, err, sql)
			return
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", title, err)
		}
		rows.Close()
		n++
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			run(p.Title, tg.RawSQL)
		}
	}
	run("site variable", d.Templating.List[0].Query)
	if n < 10 {
		t.Fatalf("ran only %d queries", n)
	}
	var pv int64
	conn.QueryRow(context.Background(), expand.Replace(
		"SELECT sum(pageviews) FROM web_counters WHERE site = '${site}' AND dimension = 'total' AND $__timeFilter(hour)")).Scan(&pv)
	if pv == 0 {
		t.Fatal("macro expansion selects nothing")
	}
}
