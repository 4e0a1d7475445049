package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// conversionSites declares a site that keeps two props, with event, page
// and revenue goals and a funnel, as the README shows.
const conversionSites = `{"sites": [
  {"domain": "shop.example", "email_secret": "` + secret + `",
   "props": ["plan", "lang"],
   "goals": [{"event": "Signup"}, {"name": "Thanks", "path": "/thank-you"}, {"event": "Purchase"}],
   "funnels": [{"name": "Buy", "steps": [{"goal": "Signup"}, {"goal": "Purchase"}]}]}
]}`

// TestConversionsReachClickHouse sends page views and events with props
// and revenue through the real server into ClickHouse, and checks the
// conversion rows exactly; props that are not allow-listed, and the parts
// of built-in props that are reduced away, are in no column of any table
// nor in the logs.
func TestConversionsReachClickHouse(t *testing.T) {
	r := startCollectorWith(t, harness{sites: conversionSites})
	const (
		mark1 = "pm-secret-1"
		mark2 = "zed@privacy-mark.example"
		card  = "4111111111111111"
		token = "pmtok123"
		name  = "secretpropname"
	)
	for _, body := range []string{
		`{"n":"pageview","u":"https://shop.example/thank-you","d":"shop.example","p":{"plan":"free","` + name + `":"` + mark1 + `"},"consent":{"analytics":"granted"}}`,
		`{"n":"Signup","u":"https://shop.example/join","d":"shop.example","p":{"plan":"pro","lang":"de","` + name + `":"` + mark2 + `"},"consent":{"analytics":"granted"}}`,
		`{"n":"Purchase","u":"https://shop.example/cart","d":"shop.example","p":{"plan":"pro","card":"` + card + `"},"revenue":{"amount":"19.90","currency":"EUR"},"consent":{"analytics":"granted"}}`,
		`{"name":"Purchase","url":"https://shop.example/cart","domain":"shop.example","meta":"{\"plan\":\"pro\"}","$":{"amount":5,"currency":"usd"}}`,
		`{"n":"Outbound Link: Click","u":"https://shop.example/","d":"shop.example","p":{"url":"https://partner.example.org/offer?token=` + token + `"}}`,
		`{"n":"Other","u":"https://shop.example/","d":"shop.example","revenue":{"amount":3,"currency":"EUR"}}`,
		`{"n":"pageview","u":"https://shop.example/app#/pricing?x=` + token + `","d":"shop.example","h":1}`,
	} {
		if status, b := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: ipGB, ua: uaChromeWin, body: body}); status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", body, status, b)
		}
	}
	// A refused event is counted nowhere.
	if status, _ := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: ipGB, ua: uaChromeWin,
		body: `{"n":"Purchase","u":"https://shop.example/","d":"shop.example","p":{"plan":["` + mark1 + `"]}}`}); status != http.StatusBadRequest {
		t.Fatalf("props with an array: %d, want 400", status)
	}
	r.stop()

	type row struct{ hits, pageviews, visitors, revenue int64 }
	rows, err := r.conn.Query(context.Background(), "SELECT dimension, value, sum(hits), sum(pageviews), sum(visitors), sum(revenue) FROM "+
		r.db+".web_counters WHERE site = 'shop.example' AND dimension IN ('prop', 'goal', 'goal_prop', 'revenue', 'uniques') GROUP BY dimension, value")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]row{}
	for rows.Next() {
		var dim, val string
		var c row
		if err := rows.Scan(&dim, &val, &c.hits, &c.pageviews, &c.visitors, &c.revenue); err != nil {
			t.Fatal(err)
		}
		got[dim+"|"+strings.ReplaceAll(val, "\t", "/")] = c
	}
	rows.Close()
	want := map[string]row{
		"uniques|on":  {3, 1, 0, 0},
		"uniques|off": {4, 1, 0, 0},
		// The page view converts the page goal; only plan is kept.
		"prop|pageview/plan/free":    {1, 1, 1, 0},
		"goal|Thanks":                {1, 0, 1, 0},
		"goal_prop|Thanks/plan/free": {1, 1, 1, 0},
		"prop|Signup/plan/pro":       {1, 0, 1, 0},
		"prop|Signup/lang/de":        {1, 0, 1, 0},
		"goal|Signup":                {1, 0, 1, 0},
		"goal_prop|Signup/plan/pro":  {1, 0, 1, 0},
		"goal_prop|Signup/lang/de":   {1, 0, 1, 0},
		// Two purchases, the second without consent (no visitor), in
		// two currencies, never converted.
		"prop|Purchase/plan/pro":      {2, 0, 1, 0},
		"goal|Purchase":               {2, 0, 1, 0},
		"goal_prop|Purchase/plan/pro": {2, 0, 1, 0},
		"revenue|Purchase/EUR":        {1, 0, 1, 19_900_000}, // a consented buyer: k counts buyers
		"revenue|Purchase/USD":        {1, 0, 0, 5_000_000},
		// The outbound link by its destination host only.
		"prop|Outbound Link: Click/url/partner.example.org": {1, 0, 0, 0},
		// "Other" converts no goal: its revenue is dropped.
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("row %s = %+v, want %+v", k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected row %s = %+v", k, g)
		}
	}
	web := r.webCounters(t)
	if c := web["shop.example|path|/app#/pricing"]; c[1] != 1 {
		t.Errorf("the hash-routed page view: %v, want 1 page view of /app#/pricing", c)
	}

	needles := []string{mark1, "privacy-mark", "zed@", card, token, name, "card", "offer"}
	scanned, columns := r.scanColumns(t, needles)
	if columns < 10 || scanned < 50 {
		t.Fatalf("scanned %d values in %d columns: the scan would prove nothing", scanned, columns)
	}
	logs := r.logs.String()
	for _, n := range needles {
		if strings.Contains(logs, n) {
			t.Errorf("logs contain %q", n)
		}
	}
}
