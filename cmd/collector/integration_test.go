package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"tally/pixel"
)

// TestCountsExactly sends page views, pixel hits, email opens and sends
// through the real server, stops it (which flushes), and checks every
// counter in ClickHouse.
func TestCountsExactly(t *testing.T) {
	r := startCollector(t)
	event := func(ip, ua, body string, header map[string]string) {
		t.Helper()
		status, resp := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: ip, ua: ua, body: body, header: header})
		if status != http.StatusAccepted {
			t.Fatalf("POST /api/event %s: status %d %s", body, status, resp)
		}
	}
	gif := func(path, ip, ua string, header map[string]string) {
		t.Helper()
		status, body := r.send(t, hit{path: path, ip: ip, ua: ua, header: header})
		if status != http.StatusOK || !bytes.Equal(body, pixel.GIF()) {
			t.Fatalf("GET %s: status %d, body %q: want 200 and the GIF", path, status, body)
		}
	}

	// A consenting visitor in England views /pricing three times from a
	// campaign link: three page views, one visitor.
	for i := 0; i < 3; i++ {
		event(ipGB, uaChromeWin, `{"name":"pageview","url":"https://example.com/pricing/?utm_source=news&utm_medium=email&utm_campaign=spring","domain":"example.com","referrer":"https://www.google.com/","consent":{"analytics":"granted"}}`, nil)
	}
	// A Bavarian iPhone without a consent signal, from Hacker News, through
	// the short field names of the Plausible tracker: counted, no visitor.
	event(ipDE, uaIPhone, `{"n":"pageview","u":"https://www.example.com/about","d":"example.com","r":"https://news.ycombinator.com/item?id=1"}`, nil)
	// A custom event from the same consenting visitor.
	event(ipGB, uaChromeWin, `{"name":"Signup","url":"https://example.com/pricing","domain":"example.com","consent":{"analytics":"granted"}}`, nil)
	// DNT switches the visitor hash off even with a grant.
	event(ipUS, uaFirefox, `{"name":"pageview","url":"https://example.com/","domain":"example.com","consent":{"analytics":"granted"}}`, map[string]string{"DNT": "1"})
	// A crawler: filtered, not traffic.
	event(ipUS, uaGooglebot, `{"name":"pageview","url":"https://example.com/","domain":"example.com"}`, nil)
	// A strict site without consent: only the denial is counted.
	event(ipUS, uaFirefox, `{"name":"pageview","url":"https://strict.example/","domain":"strict.example","consent":{"analytics":"denied"}}`, nil)

	// Website pixel: page from the Referer header, consent in the query.
	gif("/p.gif?d=example.com&consent=granted", ipUS, uaFirefox, map[string]string{"Referer": "https://example.com/blog/"})
	// Pixel with explicit u= and r=.
	gif("/p.gif?d=example.com&u=https%3A%2F%2Fexample.com%2Fblog&r=https%3A%2F%2Fduckduckgo.com%2F", ipDE, uaIPhone, nil)
	// Pixels that must not count but still answer the GIF.
	gif("/p.gif?d=unknown.example", ipUS, uaFirefox, map[string]string{"Referer": "https://example.com/x"})
	gif("/p.gif?d=example.com", ipUS, uaFirefox, nil) // no page at all

	// Email: a signed open twice (one unique), a tampered one, an Apple
	// privacy-proxy prefetch (machine), and the campaign's sends.
	open := pixel.EmailURL("", []byte(secret), pixel.Claims{Site: "example.com", Campaign: "spring-sale", Recipient: "r-1"})
	gif(open, ipGB, uaChromeWin, nil)
	gif(open, ipGB, uaChromeWin, nil)
	gif(strings.Replace(open, "r=r-1", "r=r-2", 1), ipGB, uaChromeWin, nil) // signature no longer matches
	gif("/e/example.com/spring-sale.gif?r=r-3", ipGB, uaChromeWin, nil)     // unsigned
	gif(pixel.EmailURL("", []byte(secret), pixel.Claims{Site: "example.com", Campaign: "spring-sale", Recipient: "r-4"}), ipUS, "Mozilla/5.0", nil)
	status, body := r.send(t, hit{method: http.MethodPost, path: "/api/campaigns/spring-sale/sent",
		body: `{"site":"example.com","count":1000}`, header: map[string]string{"Authorization": "Bearer " + secret}})
	if status != http.StatusAccepted {
		t.Fatalf("sent: status %d %s", status, body)
	}
	status, _ = r.send(t, hit{method: http.MethodPost, path: "/api/campaigns/spring-sale/sent",
		body: `{"site":"example.com","count":5}`, header: map[string]string{"Authorization": "Bearer wrong"}})
	if status != http.StatusUnauthorized {
		t.Fatalf("sent with a wrong token: status %d, want 401", status)
	}

	// Bodies over the limit are refused by the server itself.
	status, body = r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: ipUS, ua: uaFirefox,
		body: `{"name":"pageview","url":"https://example.com/","domain":"example.com","props":"` + strings.Repeat("x", 20<<10) + `"}`})
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: status %d %s, want 413", status, body)
	}

	r.stop()
	web := r.webCounters(t)
	want := map[string][3]int64{ // hits, pageviews, visitors
		// 3 (/pricing) + 1 (/about) + 1 (/, DNT) + 2 (pixels) page views;
		// visitors: the consenting Chrome and the consenting pixel Firefox.
		"example.com|total|":              {7, 7, 2},
		"example.com|path|/pricing":       {3, 3, 1},
		"example.com|path|/about":         {1, 1, 0},
		"example.com|path|/":              {1, 1, 0},
		"example.com|path|/blog":          {2, 2, 1},
		"example.com|source|news":         {3, 3, 1},
		"example.com|source|Hacker News":  {1, 1, 0},
		"example.com|source|DuckDuckGo":   {1, 1, 0},
		"example.com|source|":             {2, 2, 1},
		"example.com|channel|email":       {3, 3, 1}, // utm_medium=email
		"example.com|channel|social":      {1, 1, 0},
		"example.com|channel|search":      {1, 1, 0},
		"example.com|channel|direct":      {2, 2, 1},
		"example.com|utm_source|news":     {3, 3, 1},
		"example.com|utm_medium|email":    {3, 3, 1},
		"example.com|utm_campaign|spring": {3, 3, 1},
		"example.com|country|GB":          {3, 3, 1},
		"example.com|country|DE":          {2, 2, 0},
		"example.com|country|US":          {2, 2, 1},
		"example.com|region|GB-ENG":       {3, 3, 1},
		"example.com|region|DE-BY":        {2, 2, 0},
		"example.com|region|US-CA":        {2, 2, 1},
		"example.com|device|desktop":      {5, 5, 2},
		"example.com|device|mobile":       {2, 2, 0},
		"example.com|browser|Chrome":      {3, 3, 1},
		"example.com|browser|Firefox":     {2, 2, 1},
		"example.com|browser|Safari":      {2, 2, 0},
		"example.com|os|Windows":          {3, 3, 1},
		"example.com|os|Linux":            {2, 2, 1},
		"example.com|os|iOS":              {2, 2, 0},
		"example.com|language|en":         {7, 7, 2}, // the senders' Accept-Language
		"example.com|event|Signup":        {1, 0, 1},
		"example.com|consent|granted":     {6, 0, 0},
		"example.com|consent|unknown":     {2, 0, 0},
		"example.com|filtered|crawler":    {1, 0, 0},
		"strict.example|consent|denied":   {1, 0, 0},
		"example.com|utm_source|":         {4, 4, 1},
		"example.com|utm_medium|":         {4, 4, 1},
		"example.com|utm_campaign|":       {4, 4, 1},
	}
	for k, w := range want {
		if got := web[k]; got != w {
			t.Errorf("web %s = %v (hits, pageviews, visitors), want %v", k, got, w)
		}
	}
	for k, got := range web {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected web counter %s = %v", k, got)
		}
	}

	email := r.emailCounters(t)
	wantEmail := map[string][4]int64{ // sent, opens, unique, machine
		"example.com|spring-sale|total|":                            {1000, 2, 1, 1},
		"example.com|spring-sale|country|GB":                        {0, 2, 1, 0},
		"example.com|spring-sale|region|GB-ENG":                     {0, 2, 1, 0},
		"example.com|spring-sale|client|Webmail (Chrome)":           {0, 2, 1, 0},
		"example.com|spring-sale|client|Apple Mail (privacy proxy)": {0, 0, 0, 1},
		"example.com|spring-sale|machine|apple_mpp":                 {0, 0, 0, 1},
	}
	for k, w := range wantEmail {
		if got := email[k]; got != w {
			t.Errorf("email %s = %v (sent, opens, unique, machine), want %v", k, got, w)
		}
	}
	for k, got := range email {
		if _, ok := wantEmail[k]; !ok {
			t.Errorf("unexpected email counter %s = %v", k, got)
		}
	}
}
