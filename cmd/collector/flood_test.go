package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"tally/counter"
)

// TestFloodFromOneIPv6Network: one client sends random paths, UTM values,
// referrers and event names from random addresses of one IPv6 /64, through
// the trusted loopback proxy, as fast as it can. The rate limiter takes
// the /64 for one client; the site's share of the visitor memory fills and
// sheds only that site's hits; the memory stays under its bound; another
// site keeps counting, visitors included; and ClickHouse holds at most
// MAX_VALUES_PER_HOUR values per (site, dimension, hour), the rest counted
// under "(other)", no hit lost.
func TestFloodFromOneIPv6Network(t *testing.T) {
	const (
		valueCap  = 20
		rateLimit = 400
		sent      = 500
		maxPairs  = 1000 // 500 a site
	)
	r := startCollectorWith(t, harness{
		sites: `{"sites": [{"domain": "flood.example"}, {"domain": "quiet.example"}]}`,
		env: map[string]string{
			"RATE_LIMIT": strconv.Itoa(rateLimit), "RATE_WINDOW": "10m",
			"MAX_VALUES_PER_HOUR": strconv.Itoa(valueCap), "MAX_VISITOR_PAIRS": strconv.Itoa(maxPairs),
		},
	})
	rng := rand.New(rand.NewPCG(8, 7))
	net64 := netip.MustParsePrefix("2001:db8:1:2::/64").Addr().As16() // DE in the fixture
	randomAddr := func() string {
		a := net64
		for i := 8; i < 16; i++ {
			a[i] = byte(rng.IntN(256))
		}
		return netip.AddrFrom16(a).String()
	}
	statuses := map[int]int{}
	var pageviews, events int // counted ones
	for i := range sent {
		n := rng.IntN(1_000_000)
		var body string
		switch i % 3 {
		case 0, 1: // page views, half of them with consent (the memory)
			c := "granted"
			if i%3 == 1 {
				c = ""
			}
			body = fmt.Sprintf(`{"name":"pageview","url":"https://flood.example/blog/post-%d?utm_source=src-%d&utm_medium=m-%d&utm_campaign=camp-%d","domain":"flood.example","referrer":"https://site%d.com/","consent":{"analytics":%q}}`,
				n, n, n, n, n, c)
		case 2:
			body = fmt.Sprintf(`{"name":"Click %d","url":"https://flood.example/","domain":"flood.example"}`, n)
		}
		status, _ := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: randomAddr(), ua: uaFirefox, body: body})
		statuses[status]++
		if status == http.StatusAccepted {
			if i%3 == 2 {
				events++
			} else {
				pageviews++
			}
		}
	}
	// The /64 is one client: exactly RATE_LIMIT requests got past the
	// limiter, whatever their addresses.
	if statuses[http.StatusTooManyRequests] != sent-rateLimit {
		t.Errorf("statuses %v: want %d answered 429 (one budget for the /64)", statuses, sent-rateLimit)
	}
	// The flood filled flood.example's share of the visitor memory: its
	// consented hits were shed.
	if statuses[http.StatusServiceUnavailable] == 0 || statuses[http.StatusAccepted]+statuses[http.StatusServiceUnavailable] != rateLimit {
		t.Errorf("statuses %v: want some 503 (the site's share full) and the rest 202", statuses)
	}
	// Another /64 is another client.
	if status, body := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: "2001:db8:1:3::1", ua: uaFirefox,
		body: `{"name":"pageview","url":"https://flood.example/","domain":"flood.example"}`}); status != http.StatusAccepted {
		t.Errorf("a client of another /64: %d %s", status, body)
	} else {
		pageviews++
	}
	// Another site keeps counting, visitors included.
	const quiet = 20
	for i := range quiet {
		status, body := r.send(t, hit{method: http.MethodPost, path: "/api/event", ip: "81.2.69." + strconv.Itoa(10+i), ua: uaChromeWin,
			body: `{"name":"pageview","url":"https://quiet.example/pricing","domain":"quiet.example","consent":{"analytics":"granted"}}`})
		if status != http.StatusAccepted {
			t.Fatalf("quiet.example page view %d during the flood: %d %s", i, status, body)
		}
	}
	m := r.metrics(t)
	t.Logf("statuses %v; %d page views and %d events accepted; %v visitor pairs, %v values counted as (other)",
		statuses, pageviews, events, m["tally_visitor_pairs"], m["tally_overflow_values_total"])
	if pairs := m["tally_visitor_pairs"]; pairs > maxPairs || pairs < maxPairs/2 {
		t.Errorf("tally_visitor_pairs %v: want the flood's share (%d) filled and the bound (%d) held", pairs, maxPairs/2, maxPairs)
	}
	if m["tally_overflow_values_total"] == 0 {
		t.Error("tally_overflow_values_total is 0: the flood's values were not capped")
	}
	r.stop()

	web := r.webCounters(t)
	if got := web["quiet.example|total|"]; got != [3]int64{quiet, quiet, quiet} {
		t.Errorf("quiet.example total %v, want %d hits, page views and visitors", got, quiet)
	}
	if got := web["flood.example|total|"][1]; got != int64(pageviews) {
		t.Errorf("flood.example counted %d page views, want the %d accepted", got, pageviews)
	}

	// Per (site, dimension, hour): values other than (other), and hits.
	rows, err := r.conn.Query(context.Background(), "SELECT site, dimension, hour, uniqExactIf(value, value != '"+counter.Overflow+"'), sumIf(hits, value = '"+counter.Overflow+"'), sum(hits) FROM "+
		r.db+".web_counters GROUP BY site, dimension, hour")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	overflow := map[string]int64{}
	hits := map[string]int64{}
	for rows.Next() {
		var site, dim string
		var hour time.Time
		var values uint64
		var other, sum int64
		if err := rows.Scan(&site, &dim, &hour, &values, &other, &sum); err != nil {
			t.Fatal(err)
		}
		if values > valueCap {
			t.Errorf("%s %s at %v: %d values, over the cap of %d", site, dim, hour, values, valueCap)
		}
		if site == "flood.example" {
			overflow[dim] += other
			hits[dim] += sum
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, dim := range []string{counter.DimPath, counter.DimSource, counter.DimUTMSource, counter.DimUTMMedium, counter.DimUTMCampaign, counter.DimEvent} {
		if overflow[dim] == 0 {
			t.Errorf("flood.example %s: nothing under (other)", dim)
		}
	}
	// Capped, not dropped: every dimension of a page view counts every
	// accepted page view; the event rows every accepted event.
	for _, dim := range []string{counter.DimPath, counter.DimSource, counter.DimUTMCampaign, counter.DimCountry} {
		if hits[dim] != int64(pageviews) {
			t.Errorf("flood.example %s rows count %d hits, want the %d accepted page views", dim, hits[dim], pageviews)
		}
	}
	if hits[counter.DimEvent] != int64(events) {
		t.Errorf("flood.example event rows count %d, want the %d accepted events", hits[counter.DimEvent], events)
	}
}

// metrics reads /metrics (with the test token) into name -> value, for
// metrics without labels.
func (r *running) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	status, body := r.send(t, hit{path: "/metrics", header: map[string]string{"Authorization": "Bearer " + testMetricsToken}})
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}
