package dashboards_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gofiber/fiber/v2"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/collector"
	"tally/collector/clientip"
	"tally/collector/geo"
	"tally/collector/metrics"
	"tally/dashboards"
	"tally/internal/chtest"
	"tally/internal/testpipe"
	"tally/sites"
)

func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: CI must install it (scripts/test.sh does)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium): skipping the browser test")
	return ""
}

// TestEndToEndInChromium starts the collector with the dashboards mounted,
// sends page views and pixel hits, signs in with headless Chromium and
// checks that the dashboard shows exactly what was sent.
func TestEndToEndInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	dir := t.TempDir()
	ctx := context.Background()

	url, _ := chtest.Database(t)
	sink, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if err := sink.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	pipe := testpipe.New(t, testpipe.Options{Sink: sink, EmailWindow: time.Hour,
		Regions: map[string]geo.Region{
			"2001:db8:1::/48": {Country: "DE", Subdivision: "DE-BY"},
			"198.51.100.0/24": {Country: "US", Subdivision: "US-CA"},
		},
		Aggregator: func(o *aggregator.Options) { o.FlushInterval = time.Hour }})
	agg, pipeline := pipe.Aggregator, pipe.Pipeline
	// k = 0: the admin's own view is unfolded, so five page views show as sent.
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com","timezone":"Europe/Berlin","min_count_k":0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dashboards.New(dashboards.Options{Conn: sink.Conn(), Sites: reg, AdminPassword: password})
	if err != nil {
		t.Fatal(err)
	}
	loopback := netipPrefixes(t, "127.0.0.1/32", "::1/128")
	app, err := collector.New(collector.Options{Sites: reg, Pipeline: pipeline, Proxies: clientip.NewResolver(loopback),
		Metrics: metrics.New(metrics.Gauges{}), Mount: []func(fiber.Router){d.Register}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	defer app.Shutdown()
	base := "http://" + ln.Addr().String()

	send := func(method, path, body, ip, ua string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("X-Forwarded-For", ip)
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Accept-Language", "en") // as a browser: else filtered as request_shape
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d", method, path, res.StatusCode)
		}
	}
	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	// One visitor who consented: three page views, one unique visitor.
	for _, p := range []string{"/", "/pricing", "/pricing"} {
		send("POST", "/api/event", `{"name":"pageview","url":"https://example.com`+p+`","domain":"example.com","consent":{"analytics":"granted"}}`,
			"2001:db8:1::5", chrome)
	}
	// Two pixel page views without consent: counted, never as visitors.
	send("GET", "/p.gif?d=example.com&u=https%3A%2F%2Fexample.com%2Fabout", "", "198.51.100.7", firefox)
	send("GET", "/p.gif?d=example.com&u=https%3A%2F%2Fexample.com%2Fabout", "", "198.51.100.8", firefox)
	if err := agg.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 1600))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/sites/example.com?range=today"),
		chromedp.WaitVisible(`input[name=user]`),
	); err != nil {
		t.Fatal(err)
	}
	loginURL, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`[data-kpi=pageviews]`),
	); err != nil {
		t.Fatal(err)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return s
	}
	visitors, pageviews := text(`[data-kpi=visitors]`), text(`[data-kpi=pageviews]`)
	pages, regions := text(`#path tbody`), text(`#region tbody`)
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100 gives a PNG
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("E2E_SCREENSHOT"); out != "" {
		os.WriteFile(out, shot, 0o644)
	}
	t.Logf("screenshot: %s", path)
	if !strings.Contains(loginURL, "/login?next=") {
		t.Errorf("anonymous visit went to %s, want the sign-in page", loginURL)
	}
	if visitors != "1" || pageviews != "5" {
		t.Errorf("dashboard shows %s visitors and %s page views, want 1 and 5", visitors, pageviews)
	}
	for _, want := range []string{"/pricing", "/about", "/"} {
		if !strings.Contains(pages, want) {
			t.Errorf("top pages %q lack %s", pages, want)
		}
	}
	if !strings.Contains(regions, "Bayern, Germany") || !strings.Contains(regions, "California, United States") {
		t.Errorf("regions: %q", regions)
	}
}
