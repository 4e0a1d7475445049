package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"tally/collector/clientip"
	"tally/collector/metrics"
	"tally/counter"
	"tally/internal/testpipe"
	"tally/sites"
)

// TestRequestFactsReachTheLayers: what the HTTP layer reads for the bot
// layers (the tracker's webdriver report, whether Accept-Language was
// sent, the Referer of a pixel) reaches the pipeline, and each hit is
// filtered under its reason.
func TestRequestFactsReachTheLayers(t *testing.T) {
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := testpipe.New(t, testpipe.Options{})
	app, err := New(Options{Sites: reg, Pipeline: p.Pipeline, Metrics: metrics.New(metrics.Gauges{}),
		Proxies: clientip.NewResolver([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")})})
	if err != nil {
		t.Fatal(err)
	}
	const ev = `{"name":"pageview","url":"https://example.com/","domain":"example.com"`
	f := func(name string, req *http.Request, want string) {
		t.Helper()
		resp, body := do(t, app, req)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s: status %d %s", name, resp.StatusCode, body)
		}
		if err := p.Aggregator.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows := p.Sink.TakeWebRows()
		var filtered []string
		for k, c := range rows {
			if k.Dimension == counter.DimFiltered {
				filtered = append(filtered, k.Value)
			}
			if k.Dimension == counter.DimTotal && c.Hits > 0 {
				filtered = append(filtered, "counted")
			}
		}
		if len(filtered) != 1 || filtered[0] != want {
			t.Errorf("%s: %v, want %s", name, filtered, want)
		}
	}
	f("browser", eventReq(ev+`}`), "counted")
	f("navigator.webdriver", eventReq(ev+`,"wd":true}`), "automation")
	f("webdriver false", eventReq(ev+`,"wd":false}`), "counted")
	noLang := eventReq(ev + `}`)
	noLang.Header.Del("Accept-Language")
	f("no Accept-Language", noLang, "request_shape")
	emptyLang := eventReq(ev + `}`)
	emptyLang.Header.Set("Accept-Language", "")
	f("empty Accept-Language", emptyLang, "request_shape")
	f("spam referrer", eventReq(ev+`,"referrer":"https://100dollars-seo.com/x"}`), "referrer_spam")
	pixel := func(referer, lang string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/p.gif?d=example.com", nil)
		req.Header.Set("User-Agent", chrome)
		req.Header.Set("Referer", referer)
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		return req
	}
	f("pixel", pixel("https://example.com/", "de"), "counted")
	f("pixel without Accept-Language", pixel("https://example.com/", ""), "request_shape")
}
