package main

import (
	"encoding/binary"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"tally/pixel"
)

// TestNothingPersonalIsStoredOrLogged sends hits carrying distinctive
// addresses, user agents, recipient tokens and query strings, and values
// shaped like identifiers (a reset token, e-mail addresses and an order
// number in paths, UTM values and event names; referrers with IP literal
// hosts and a personal subdomain), then scans every column of every table,
// and every log line, for them (privacy invariants 1, 4, 6 and 7).
func TestNothingPersonalIsStoredOrLogged(t *testing.T) {
	r := startCollector(t)
	const (
		ipv4      = "81.2.69.211"
		ipv6      = "2001:db8:1::dead:beef"
		uaMark    = "Distinct7f3a9cUA"
		recipient = "rcpt-5e1f0c7d2a"
		queryMark = "qs9b8c7d6e"
	)
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 " + uaMark
	for _, ip := range []string{ipv4, ipv6} {
		for _, c := range []string{"granted", "denied", ""} {
			status, body := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: ip, ua: ua,
				body: `{"name":"pageview","url":"https://example.com/p?token=` + queryMark + `&utm_source=x","domain":"example.com","referrer":"https://ref.example/?q=` + queryMark + `","consent":{"analytics":"` + c + `"}}`})
			if status != http.StatusAccepted {
				t.Fatalf("event: %d %s", status, body)
			}
		}
		r.send(t, hit{path: "/p.gif?d=example.com&consent=granted&u=https%3A%2F%2Fexample.com%2Fq%3Fsecret%3D" + queryMark, ip: ip, ua: ua})
		r.send(t, hit{path: pixel.EmailURL("", []byte(secret), pixel.Claims{Site: "example.com", Campaign: "c1", Recipient: recipient}), ip: ip, ua: ua})
		r.send(t, hit{path: "/e/example.com/c1.gif?r=" + recipient + "&s=forged", ip: ip, ua: ua})
	}
	// Identifiers in values: paths, sources (an IP literal referrer, a
	// personal subdomain), UTM values and event names.
	const (
		resetToken = "0f3c9a7e2b1d4c8e9a7b6c5d4e3f2a1b"
		pathEmail  = "bob.jones@example.net"
		orderNo    = "9876543210123"
		refIPv4    = "10.20.30.40"
		refIPv6    = "2001:db8::beef"
		personal   = "alice-smith"
		eventEmail = "carol.white@example.org"
		utmEmail   = "dave.brown@example.com"
	)
	for _, c := range []struct{ path, ref string }{
		{"/reset/" + resetToken, ""},
		{"/user/" + pathEmail + "/settings", ""},
		{"/orders/" + orderNo + "?utm_source=" + utmEmail, ""},
		{"/", "http://" + refIPv4 + "/admin"},
		{"/", "http://[" + refIPv6 + "]/x"},
		{"/", "https://" + personal + ".substack.com/p/hello"},
	} {
		status, body := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: ipv4, ua: ua,
			body: `{"name":"pageview","url":"https://example.com` + c.path + `","domain":"example.com","referrer":"` + c.ref + `"}`})
		if status != http.StatusAccepted {
			t.Fatalf("event %s: %d %s", c.path, status, body)
		}
	}
	if status, body := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: ipv4, ua: ua,
		body: `{"name":"Signup ` + eventEmail + `","url":"https://example.com/","domain":"example.com"}`}); status != http.StatusAccepted {
		t.Fatalf("custom event: %d %s", status, body)
	}

	// Bad input must not echo identifiers in answers or logs either.
	status, body := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: "garbage, " + ipv4 + ", " + ipv4 + "x", ua: ua,
		body: `{"name":"pageview","url":"https://example.com/","domain":"example.com"}`})
	if status != http.StatusBadRequest {
		t.Fatalf("malformed X-Forwarded-For: status %d, want 400", status)
	}
	if strings.Contains(string(body), ipv4) {
		t.Errorf("error answer echoes the address: %s", body)
	}
	r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: ipv4, ua: ua, body: `{"name":"pageview","url":"ftp://` + ipv4 + `/` + queryMark + `","domain":"example.com"}`})
	r.stop()

	v4 := netip.MustParseAddr(ipv4).As4()
	needles := []string{
		ipv4, ipv6, "81.2.69.", "2001:db8:1:", "dead:beef", // addresses, whole or truncated
		strconv.FormatUint(uint64(binary.BigEndian.Uint32(v4[:])), 10), // an IPv4 as an integer
		uaMark, recipient, queryMark,
		resetToken, resetToken[:12], pathEmail, "bob.jones", orderNo, refIPv4, refIPv6, "db8::beef", personal,
		eventEmail, "carol.white", utmEmail, "dave.brown",
	}

	// Every column of every table in the database, as text.
	scanned, columns := r.scanColumns(t, needles)
	if columns < 10 {
		t.Fatalf("found only %d columns: the scan would prove nothing", columns)
	}
	// The hits did arrive, so the scan looked at real data.
	web := r.webCounters(t)
	if web["example.com|total|"][1] != 14 {
		t.Fatalf("want 14 page views (per address: 3 events, denied ones too in anonymous mode, and 1 pixel; 6 with identifiers), got %v", web["example.com|total|"])
	}
	// And the identifiers were counted, as placeholders.
	for _, row := range []string{"path|/reset/:id", "path|/user/:email/settings", "path|/orders/:num", "utm_source|:email",
		"source|:ip", "source|substack.com", "event|:email"} {
		if web["example.com|"+row][0] == 0 {
			t.Errorf("no row %s: the identifier-shaped values were not counted, so the scan proves nothing about them", row)
		}
	}
	if scanned < 100 {
		t.Fatalf("scanned only %d values", scanned)
	}

	logs := r.logs.String()
	if !strings.Contains(logs, `"route":"/api/event"`) {
		t.Fatalf("the access log is missing, so the log scan proves nothing:\n%s", logs)
	}
	for _, n := range needles {
		if strings.Contains(logs, n) {
			t.Errorf("logs contain %q:\n%s", n, logs)
		}
	}
}
