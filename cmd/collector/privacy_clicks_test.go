package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tally/pixel"
)

// TestClicksKeepNothingPersonal sends click links (people's, machines',
// tampered and expired ones) carrying a recipient token, destination
// query strings and an email address, from distinctive addresses and
// agents, then scans every column of every table, every log line and the
// metrics for them (privacy invariants 1, 4, 6 and 7).
func TestClicksKeepNothingPersonal(t *testing.T) {
	r := startCollectorWith(t, harness{env: map[string]string{"CLICK_BURST_WINDOW": "200ms"}})
	// Redirects are looked at, never followed: the destinations are not ours.
	r.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const (
		ipv4      = "81.2.69.213"
		ipv6      = "2001:db8:1::cafe:f00d"
		uaMark    = "ClickUA3e4f5a6b"
		recipient = "rcpt-9c8b7a6d5e"
		queryMark = "dq4f5e6d7c"
		address   = "alice.liddell@mail.example"
	)
	ua := uaChromeWin + " " + uaMark
	dests := []string{
		"https://shop.example.com/spring?session=" + queryMark + "&email=" + url.QueryEscape(address) + "#" + queryMark,
		"https://shop.example.com/u/" + address + "/orders?id=" + queryMark,
		"https://" + ipv4 + "/landing?x=" + queryMark,
	}
	sign := func(label, dest string, honeypot bool, expires int64) string {
		u, err := pixel.ClickURL("", []byte(secret), pixel.Link{Site: "example.com", Campaign: "c1", Label: label, Destination: dest,
			Recipient: recipient, Links: len(dests), Honeypot: honeypot, Expires: expires})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, ip := range []string{ipv4, ipv6} {
		for i, d := range dests {
			label := []string{"cta", "account", "ip"}[i]
			link := sign(label, d, false, 0)
			for _, h := range []hit{
				{path: link, ip: ip, ua: ua},                                  // a person
				{method: http.MethodHead, path: link, ip: ip, ua: ua},         // a checker
				{path: link, ip: ip, ua: "Barracuda Sentinel (EE) " + uaMark}, // a scanner
				{path: link, ip: ip, ua: ua, header: map[string]string{"Sec-Purpose": "prefetch"}},
				{path: strings.Replace(link, "s=", "s=x", 1), ip: ip, ua: ua},                               // tampered
				{path: "/l/example.com/c1/cta?r=" + recipient + "&u=" + url.QueryEscape(d), ip: ip, ua: ua}, // unsigned
				{path: sign(label, d, false, time.Now().Add(-time.Hour).Unix()), ip: ip, ua: ua},            // expired
			} {
				if status, _ := r.send(t, h); status != http.StatusFound {
					t.Errorf("%s %s: %d, want a redirect", h.method, h.path, status)
				}
			}
			time.Sleep(300 * time.Millisecond) // past the burst window: one link at a time is a person
		}
		r.send(t, hit{path: sign("hp", "https://example.com/?r="+queryMark, true, 0), ip: ip, ua: ua})
		r.send(t, hit{path: pixel.EmailURL("", []byte(secret), pixel.Claims{Site: "example.com", Campaign: "c1", Recipient: recipient}), ip: ip, ua: ua})
	}
	// The metrics, read before the server stops.
	_, metrics := r.send(t, hit{path: "/metrics", header: map[string]string{"Authorization": "Bearer " + testMetricsToken}})
	if !strings.Contains(string(metrics), `kind="email_click"`) {
		t.Fatalf("the metrics do not count clicks, so their scan proves nothing:\n%s", metrics)
	}
	time.Sleep(300 * time.Millisecond)
	r.stop()

	needles := []string{ipv4, ipv6, "81.2.69.", "2001:db8:1:", "cafe:f00d", uaMark, recipient, queryMark,
		address, "alice", "mail.example", "session=", "email="}
	scanned, columns := r.scanColumns(t, needles)
	if columns < 14 {
		t.Fatalf("found only %d columns: the scan would prove nothing", columns)
	}
	counts := r.clickCounters(t)
	total := counts["c1|total|"]
	if total.Clicks < 2 || total.MachineClicks < 10 || counts["c1|link|account shop.example.com/u/:email/orders"].Clicks < 1 ||
		counts["c1|link|ip :ip/landing"].Clicks < 1 {
		t.Fatalf("the clicks did not arrive as expected, so the scan proves little: %+v", counts)
	}
	if scanned < 100 {
		t.Fatalf("scanned only %d values", scanned)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, `"route":"/l/:site/:campaign/:label"`) {
		t.Fatalf("the access log of clicks is missing, so the log scan proves nothing")
	}
	for _, n := range needles {
		if strings.Contains(logs, n) {
			t.Errorf("logs contain %q", n)
		}
		if strings.Contains(string(metrics), n) {
			t.Errorf("metrics contain %q", n)
		}
	}
}
