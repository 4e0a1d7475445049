package main

import (
	"net/http"
	"testing"
	"time"

	"tally/collector/mailclient"
	"tally/counter"
	"tally/pixel"
)

// TestMachineClassesEndToEnd sends every machine class with its real
// requests through the real server into ClickHouse: each is counted under
// its class and never as a person, while the proxies that relay a
// person's open, and a person's click, are counted as people.
func TestMachineClassesEndToEnd(t *testing.T) {
	r := startCollectorWith(t, harness{env: map[string]string{"CLICK_BURST_WINDOW": "500ms"}})
	r.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	open := func(recipient, ua string) {
		t.Helper()
		if status, _ := r.send(t, hit{path: pixel.EmailURL("", []byte(secret), pixel.Claims{Site: "example.com", Campaign: "m1", Recipient: recipient}),
			ip: ipUS, ua: ua, header: map[string]string{"User-Agent": ua}}); status != http.StatusOK {
			t.Fatalf("open: %d", status)
		}
	}
	link := func(recipient, label string, honeypot bool) string {
		u, err := pixel.ClickURL("", []byte(secret), pixel.Link{Site: "example.com", Campaign: "m1", Label: label,
			Destination: "https://shop.example.com/" + label + "?from=mail", Recipient: recipient, Links: 3, Honeypot: honeypot})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	click := func(h hit) {
		t.Helper()
		h.ip = ipGB
		if h.header == nil {
			h.header = map[string]string{}
		}
		h.header["User-Agent"] = h.ua
		if status, _ := r.send(t, h); status != http.StatusFound {
			t.Fatalf("click %s: %d", h.path, status)
		}
	}

	open("r-apple", mailclient.AppleProxyAgent)
	open("r-gmail-prefetch", mailclient.GmailPrefetchAgent)
	open("r-barracuda", "Barracuda Sentinel (EE)")
	open("r-gmail", mailclient.GmailProxyAgent)                                                                           // a person, via proxy
	open("r-yahoo", "Mozilla/5.0 (compatible; YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html)") // a person, via proxy

	click(hit{method: http.MethodHead, path: link("r-head", "cta", false), ua: uaChromeWin})
	click(hit{path: link("r-prefetch", "cta", false), ua: uaChromeWin, header: map[string]string{"Sec-Purpose": "prefetch"}})
	click(hit{path: link("r-scanner", "cta", false), ua: "Barracuda Sentinel (EE)"})
	click(hit{path: link("r-empty", "cta", false), ua: ""})
	click(hit{path: link("r-honeypot", "hp", true), ua: uaChromeWin})
	click(hit{path: link("r-honeypot", "cta", false), ua: uaChromeWin}) // in the honeypot's seconds
	for _, l := range []string{"cta", "logo", "footer"} {               // every link at once
		click(hit{path: link("r-burst", l, false), ua: uaChromeWin})
	}
	click(hit{path: link("r-person", "cta", false), ua: uaIPhone}) // a person, images blocked
	time.Sleep(800 * time.Millisecond)                             // past the burst window
	r.stop()

	rows := r.clickCounters(t)
	for class, want := range map[string]counter.EmailCounts{
		counter.MachineApplePrivacy:  {MachineOpens: 1},
		counter.MachineGmailPrefetch: {MachineOpens: 1},
		counter.MachineScannerAgent:  {MachineOpens: 1, MachineClicks: 2},
		counter.MachineHead:          {MachineClicks: 1},
		counter.MachinePrefetch:      {MachineClicks: 1},
		counter.MachineHoneypot:      {MachineClicks: 2},
		counter.MachineBurst:         {MachineClicks: 3},
	} {
		if got := rows["m1|machine|"+class]; got != want {
			t.Errorf("class %s: %+v, want %+v", class, got, want)
		}
	}
	person := counter.EmailCounts{Opens: 3, UniqueOpens: 3, ImpliedOpens: 1, Clicks: 1, UniqueClicks: 1, MachineOpens: 3, MachineClicks: 9}
	if got := rows["m1|total|"]; got != person {
		t.Errorf("total %+v, want %+v", got, person)
	}
	for _, client := range []string{"Gmail (via proxy)", "Yahoo Mail (via proxy)"} {
		if got := rows["m1|client|"+client]; got.Opens != 1 || got.MachineOpens != 0 {
			t.Errorf("%s: %+v, want one person's open", client, got)
		}
	}
	if got := rows["m1|client|Safari"]; got.Clicks != 1 {
		t.Errorf("the person's click by client: %+v (rows %v)", got, rows)
	}
	if got := rows["m1|link|cta shop.example.com/cta"]; got.Clicks != 1 || got.MachineClicks != 6 {
		t.Errorf("the cta link: %+v", got)
	}
}
