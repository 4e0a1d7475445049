package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestFunnelsAndAttribution sends scripted visitors (each its own address
// and browser, consent granted) through the real server to ClickHouse, on
// a site whose sites-file entry declares two goals and a funnel, and
// checks every attribution and funnel row; a second site in anonymous
// mode gets the same script without consent, and no such row at all.
func TestFunnelsAndAttribution(t *testing.T) {
	r := startCollectorWith(t, harness{sites: `{"sites": [
		{"domain": "shop.example",
		 "goals": [{"event": "Signup"}, {"name": "Thanks", "path": "/thank-you"}],
		 "funnels": [{"name": "Buy", "steps": [{"path": "/pricing"}, {"path": "/signup"}, {"goal": "Signup"}]}]},
		{"domain": "quiet.example",
		 "goals": [{"event": "Signup"}],
		 "funnels": [{"name": "Buy", "steps": [{"path": "/pricing"}, {"path": "/signup"}, {"goal": "Signup"}]}]}
	]}`})
	type person struct{ ip, ua string }
	a := person{ipGB, uaChromeWin}
	b := person{ipDE, uaFirefox}
	c := person{ipUS, uaIPhone}
	d := person{ipGB, uaFirefox} // a's address, another browser: another visitor
	send := func(site string, p person, name, path, ref, consent string) {
		t.Helper()
		body := `{"name":"` + name + `","url":"https://` + site + path + `","domain":"` + site + `","referrer":"` + ref + `"`
		if consent != "" {
			body += `,"consent":{"analytics":"` + consent + `"}`
		}
		body += "}"
		status, resp := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: p.ip, ua: p.ua, body: body})
		if status != http.StatusAccepted && status != http.StatusOK && status != http.StatusNoContent {
			t.Fatalf("POST /api/event %s: status %d %s", body, status, resp)
		}
	}
	// The script of collector/ingest's journey tests: a enters from
	// Google and walks the funnel, b enters directly with a campaign and
	// converts out of order, c has no visit today, d converts nothing.
	script := func(site, consent string) {
		self := "https://" + site
		send(site, a, "pageview", "/blog", "https://www.google.com/", consent)
		send(site, a, "pageview", "/pricing", self+"/blog", consent)
		send(site, b, "pageview", "/pricing?utm_campaign=spring", "", consent)
		send(site, a, "pageview", "/signup", self+"/pricing", consent)
		send(site, b, "Signup", "/app", self+"/app", consent)
		send(site, c, "pageview", "/pricing", self+"/", consent)
		send(site, a, "Signup", "/app", self+"/app", consent)
		send(site, d, "pageview", "/docs", "https://www.bing.com/", consent)
		send(site, a, "pageview", "/thank-you", self+"/signup", consent)
		send(site, b, "pageview", "/signup", self+"/pricing", consent)
		send(site, c, "Signup", "/app", self+"/app", consent)
		send(site, a, "Signup", "/app", self+"/app", consent)
		send(site, b, "pageview", "/pricing", self+"/signup", consent)
	}
	script("shop.example", "granted")
	script("quiet.example", "") // anonymous mode, no consent signal
	// a, b, c and d of shop.example have state (d started a visit); no
	// visitor of quiet.example has any.
	if m := r.metrics(t); m["tally_journeys"] != 4 || m["tally_journeys_shed_total"] != 0 || m["tally_journey_bytes"] <= 0 {
		t.Errorf("/metrics: tally_journeys %v, shed %v, bytes %v; want 4, 0 and some",
			m["tally_journeys"], m["tally_journeys_shed_total"], m["tally_journey_bytes"])
	}
	r.stop()

	web := r.webCounters(t)
	got := map[string][3]int64{}
	for k, v := range web {
		parts := strings.SplitN(k, "|", 3)
		switch parts[1] {
		case "goal_source", "goal_campaign", "goal_entry", "funnel":
			got[parts[0]+" "+parts[1]+" "+strings.ReplaceAll(parts[2], "\t", "|")] = v
		}
	}
	// hits, page views, visitors
	want := map[string][3]int64{
		"shop.example funnel Buy|1": {3, 0, 3},
		"shop.example funnel Buy|2": {2, 0, 2},
		"shop.example funnel Buy|3": {1, 0, 1},

		"shop.example goal_source Signup|Google":    {2, 0, 1},
		"shop.example goal_source Signup|":          {1, 0, 1},
		"shop.example goal_source Signup|(unknown)": {1, 0, 1},
		"shop.example goal_source Thanks|Google":    {1, 0, 1},

		"shop.example goal_campaign Signup|":          {2, 0, 1},
		"shop.example goal_campaign Signup|spring":    {1, 0, 1},
		"shop.example goal_campaign Signup|(unknown)": {1, 0, 1},
		"shop.example goal_campaign Thanks|":          {1, 0, 1},

		"shop.example goal_entry Signup|/blog":     {2, 0, 1},
		"shop.example goal_entry Signup|/pricing":  {1, 0, 1},
		"shop.example goal_entry Signup|(unknown)": {1, 0, 1},
		"shop.example goal_entry Thanks|/blog":     {1, 0, 1},
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s: %v (present %v), want %v", k, g, ok, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected row %s: %v", k, g)
		}
	}
	// Both scripts were counted: the anonymous site's hits are there,
	// only its per-visitor figures are not.
	for _, site := range []string{"shop.example", "quiet.example"} {
		if pv := web[site+"|total|"][1]; pv != 9 {
			t.Errorf("%s: %d page views, want the script's 9", site, pv)
		}
	}
}
