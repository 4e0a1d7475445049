package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/collector/geo"
	"tally/collector/geo/geotest"
	"tally/internal/chtest"
)

// Fixture addresses: the GeoIP fixture maps them to regions; requests carry
// them in X-Forwarded-For from the trusted loopback proxy.
const (
	ipGB = "81.2.69.142"
	ipDE = "2001:db8:1::5"
	ipUS = "198.51.100.7"
)

const secret = "integration-secret-0123456789abcdef"

// Real-world user agents.
const (
	uaChromeWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaIPhone    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	uaFirefox   = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	uaGooglebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

// syncBuffer collects the server's log output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a collector started by startCollector.
type running struct {
	base   string
	client *http.Client
	logs   *syncBuffer
	conn   driver.Conn
	db     string
	stop   func() // stops the server, which flushes everything
}

// startCollector runs the real serve path (config, wiring, ClickHouse,
// GeoIP) on a loopback listener, with a fresh ClickHouse database.
func startCollector(t *testing.T) *running {
	t.Helper()
	return startCollectorWith(t, harness{})
}

// harness adjusts startCollector: another sites file, more settings.
type harness struct {
	sites string            // the sites file's JSON; the two test sites when ""
	env   map[string]string // settings added to (or replacing) the defaults
	tls   bool              // the settings turn TLS on: talk HTTPS
	// prepare, if set, runs on the fresh database's URL before the
	// collector starts (rows that must be there at its start).
	prepare func(t *testing.T, url string)
}

func startCollectorWith(t *testing.T, h harness) *running {
	t.Helper()
	dir := t.TempDir()
	geoPath := filepath.Join(dir, "geo.mmdb")
	geotest.WriteDB(t, geoPath, map[string]geo.Region{
		"81.2.69.0/24":    {Country: "GB", Subdivision: "GB-ENG"},
		"2001:db8:1::/48": {Country: "DE", Subdivision: "DE-BY"},
		"198.51.100.0/24": {Country: "US", Subdivision: "US-CA"},
	})
	sitesPath := filepath.Join(dir, "sites.json")
	if h.sites == "" {
		h.sites = `{"sites": [
		{"domain": "example.com", "hostnames": ["www.example.com"], "email_secret": "` + secret + `"},
		{"domain": "strict.example", "consent_mode": "strict", "email_secret": "` + secret + `"}
	]}`
	}
	if err := os.WriteFile(sitesPath, []byte(h.sites), 0o600); err != nil {
		t.Fatal(err)
	}
	url, conn := chtest.Database(t)
	if h.prepare != nil {
		h.prepare(t, url)
	}
	env := map[string]string{
		"CLICKHOUSE_URL":  url,
		"GEOIP_DB":        geoPath,
		"SITES_FILE":      sitesPath,
		"FLUSH_INTERVAL":  "200ms",
		"TRUSTED_PROXIES": "127.0.0.1/32,::1/128",
		"LOG_LEVEL":       "debug", // the privacy test reads every line
		"ADMIN_PASSWORD":  "integration-admin-password",
		"SPOOL_DIR":       filepath.Join(dir, "spool"),
		"RATE_LIMIT":      "-1", // tests send many hits from one address
		"METRICS_ADDR":    "-",  // tests in parallel would share its port
		"METRICS_TOKEN":   testMetricsToken,
	}
	maps.Copy(env, h.env)
	fs := newFlagSet()
	cfg, check := bindConfig(fs, func(k string) string { return env[k] })
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := check(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, ln, logger) }()

	r := &running{base: "http://" + ln.Addr().String(), client: http.DefaultClient, logs: logs, conn: conn, db: chtest.DB(conn)}
	if h.tls {
		r.base = "https://" + ln.Addr().String()
		r.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("serve did not stop within 30s")
			}
		})
	}
	t.Cleanup(r.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := r.client.Get(r.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case err := <-done:
			t.Fatalf("collector did not start: %v\nlogs:\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not healthy after 10s; logs:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hit is one HTTP request to the collector.
type hit struct {
	method, path, body string
	ip, ua             string
	header             map[string]string
}

// send performs h and returns the status and body.
func (r *running) send(t *testing.T, h hit) (int, []byte) {
	t.Helper()
	method := h.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, r.base+h.path, strings.NewReader(h.body))
	if err != nil {
		t.Fatal(err)
	}
	if h.ip != "" {
		req.Header.Set("X-Forwarded-For", h.ip)
	}
	if h.ua != "" {
		req.Header.Set("User-Agent", h.ua)
		// Every browser sends it (useragent.Shape); a hit that should
		// not sets it to "" in header.
		req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	}
	for k, v := range h.header {
		req.Header.Set(k, v)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// webCounters sums web counters per "site|dimension|value".
func (r *running) webCounters(t *testing.T) map[string][3]int64 {
	t.Helper()
	rows, err := r.conn.Query(context.Background(), "SELECT site, dimension, value, sum(hits), sum(pageviews), sum(visitors) FROM "+
		r.db+".web_counters GROUP BY site, dimension, value")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][3]int64{}
	for rows.Next() {
		var site, dim, val string
		var c [3]int64
		if err := rows.Scan(&site, &dim, &val, &c[0], &c[1], &c[2]); err != nil {
			t.Fatal(err)
		}
		out[site+"|"+dim+"|"+val] = c
	}
	return out
}

// emailCounters sums email counters per "site|campaign|dimension|value".
func (r *running) emailCounters(t *testing.T) map[string][4]int64 {
	t.Helper()
	rows, err := r.conn.Query(context.Background(), "SELECT site, campaign, dimension, value, sum(sent), sum(opens), sum(unique_opens), sum(machine_opens) FROM "+
		r.db+".email_counters GROUP BY site, campaign, dimension, value")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][4]int64{}
	for rows.Next() {
		var site, campaign, dim, val string
		var c [4]int64
		if err := rows.Scan(&site, &campaign, &dim, &val, &c[0], &c[1], &c[2], &c[3]); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%s|%s|%s|%s", site, campaign, dim, val)] = c
	}
	return out
}

// scanColumns reads every column of every table of the collector's
// database as text and fails t for each value holding one of the needles.
// It returns how many values and columns it read, for the caller to refuse
// a scan that would prove nothing.
func (r *running) scanColumns(t *testing.T, needles []string) (scanned, columns int) {
	t.Helper()
	ctx := context.Background()
	rows, err := r.conn.Query(ctx, "SELECT table, name FROM system.columns WHERE database = '"+r.db+"'")
	if err != nil {
		t.Fatal(err)
	}
	var cols [][2]string
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, [2]string{table, col})
	}
	rows.Close()
	for _, tc := range cols {
		vals, err := r.conn.Query(ctx, "SELECT toString("+tc[1]+") FROM "+r.db+"."+tc[0])
		if err != nil {
			t.Fatal(err)
		}
		for vals.Next() {
			var v string
			if err := vals.Scan(&v); err != nil {
				t.Fatal(err)
			}
			scanned++
			for _, n := range needles {
				if strings.Contains(v, n) {
					t.Errorf("%s.%s holds %q", tc[0], tc[1], v)
				}
			}
		}
		vals.Close()
	}
	return scanned, len(cols)
}
