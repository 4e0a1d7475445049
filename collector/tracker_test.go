package collector

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tally/collector/clientip"
	"tally/collector/metrics"
	"tally/counter"
	"tally/internal/testpipe"
	"tally/sites"
)

// TestTrackerReportsWebdriver loads a page with our tracker in a real
// Chromium wearing a desktop Chrome agent. Driven as automation
// (navigator.webdriver is true), its page view is filtered as automation;
// the same browser without the automation switch is counted.
func TestTrackerReportsWebdriver(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium on PATH")
	}
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := testpipe.New(t, testpipe.Options{})
	app, err := New(Options{Sites: reg, Pipeline: p.Pipeline, Metrics: metrics.New(metrics.Gauges{}),
		Proxies: clientip.NewResolver(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	defer app.Shutdown()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><title>t</title><script defer data-domain="example.com" src="http://stats.test:` + port + `/js/script.js"></script>`))
	}))
	defer page.Close()
	_, pagePort, _ := net.SplitHostPort(strings.TrimPrefix(page.URL, "http://"))

	visit := func(automation bool) map[string]int64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.UserAgent(chrome),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("host-resolver-rules", "MAP example.com 127.0.0.1, MAP stats.test 127.0.0.1"))
		if !automation {
			opts = append(opts, chromedp.Flag("enable-automation", false),
				chromedp.Flag("disable-blink-features", "AutomationControlled"))
		}
		actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
		defer cancelA()
		bctx, cancelB := chromedp.NewContext(actx)
		defer cancelB()
		if err := chromedp.Do(bctx, chromedp.Navigate("http://example.com:"+pagePort+"/")); err != nil {
			t.Fatalf("chromium: %v", err)
		}
		webdriver, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`navigator.webdriver === true`))
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		if webdriver != automation {
			t.Fatalf("navigator.webdriver = %v with automation %v: the test would prove nothing", webdriver, automation)
		}
		for {
			if err := p.Aggregator.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if rows := p.Sink.TakeWebRows(); len(rows) > 0 {
				out := map[string]int64{}
				for k, c := range rows {
					out[k.Dimension+"|"+k.Value] += c.Hits
				}
				return out
			}
			select {
			case <-ctx.Done():
				t.Fatal("the tracker sent nothing")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if rows := visit(true); rows[counter.DimFiltered+"|automation"] != 1 || rows[counter.DimTotal+"|"] != 0 {
		t.Errorf("a driven browser: rows %v, want one filtered automation hit", rows)
	}
	if rows := visit(false); rows[counter.DimTotal+"|"] != 1 || rows[counter.DimPath+"|/"] != 1 {
		t.Errorf("a browser: rows %v, want one counted page view", rows)
	}
}
