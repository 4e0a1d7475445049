package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"image/gif"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"tally/aggregator"
	"tally/collector/clientip"
	"tally/collector/consent"
	"tally/collector/ingest"
	"tally/collector/metrics"
	"tally/internal/testpipe"
	"tally/pixel"
	"tally/sites"
)

const testSecret = "test-secret-0123456789abcdef-0123456789"

const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

// newTestApp builds the real app and pipeline; only the sink is not
// ClickHouse: these tests look at what reaches the aggregator.
func newTestApp(t *testing.T) (*fiber.App, *aggregator.Aggregator) {
	t.Helper()
	return newTestAppWith(t, nil, nil)
}

// newTestAppWith is newTestApp with the pipeline's and the server's options
// adjusted by the given functions (either may be nil).
func newTestAppWith(t testing.TB, pipe func(*ingest.Options), srv func(*Options)) (*fiber.App, *aggregator.Aggregator) {
	t.Helper()
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com","email_secret":"` + testSecret + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := testpipe.New(t, testpipe.Options{Pipeline: pipe})
	// app.Test connections come from 0.0.0.0: trust it, to test forwarded headers.
	so := Options{Sites: reg, Pipeline: p.Pipeline, Metrics: metrics.New(metrics.Gauges{}), MetricsToken: testMetricsToken,
		Proxies: clientip.NewResolver([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")})}
	if srv != nil {
		srv(&so)
	}
	app, err := New(so)
	if err != nil {
		t.Fatal(err)
	}
	return app, p.Aggregator
}

const testMetricsToken = "test-metrics-token-0123456789"

// metricsReq reads /metrics with the token.
func metricsReq() *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	return req
}

func do(t *testing.T, app *fiber.App, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func eventReq(body string, header ...string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/api/event", strings.NewReader(body))
	req.Header.Set("User-Agent", chrome)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9") // every browser sends it: useragent.Shape
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

func TestEventRejectsBadInputAndCountsNothing(t *testing.T) {
	app, agg := newTestApp(t)
	f := func(name string, req *http.Request, wantStatus int) {
		t.Helper()
		resp, body := do(t, app, req)
		if resp.StatusCode != wantStatus {
			t.Errorf("%s: status %d (%s), want %d", name, resp.StatusCode, body, wantStatus)
			return
		}
		var e errorBody
		if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
			t.Errorf("%s: want a JSON error, got %q", name, body)
		}
	}
	ok := `{"name":"pageview","url":"https://example.com/","domain":"example.com"}`
	f("empty body", eventReq(""), 400)
	f("malformed JSON", eventReq(`{"name":`), 400)
	f("not an object", eventReq(`[1,2]`), 400)
	f("wrong type", eventReq(`{"name":1}`), 400)
	f("no url", eventReq(`{"name":"pageview","domain":"example.com"}`), 400)
	f("no domain", eventReq(`{"name":"pageview","url":"https://example.com/"}`), 400)
	f("unknown site", eventReq(`{"name":"pageview","url":"https://example.com/","domain":"nope.example"}`), 400)
	f("ftp url", eventReq(`{"name":"pageview","url":"ftp://example.com/","domain":"example.com"}`), 400)
	f("relative url", eventReq(`{"name":"pageview","url":"/pricing","domain":"example.com"}`), 400)
	f("foreign host", eventReq(`{"name":"pageview","url":"https://evil.example/","domain":"example.com"}`), 400)
	f("long name", eventReq(`{"name":"`+strings.Repeat("x", 200)+`","url":"https://example.com/","domain":"example.com"}`), 400)
	f("control chars in name", eventReq(`{"name":"a\u0000b","url":"https://example.com/","domain":"example.com"}`), 400)
	f("bad consent", eventReq(`{"name":"pageview","url":"https://example.com/","domain":"example.com","consent":{"analytics":"perhaps"}}`), 400)
	f("invalid X-Forwarded-For", eventReq(ok, "X-Forwarded-For", "999.1.1.1"), 400)
	f("non-ASCII X-Forwarded-For", eventReq(ok, "X-Forwarded-For", "\xff\xfe"), 400)
	// Control bytes in a header never reach a handler: fasthttp refuses the
	// request (TestMalformedRequestErrorsQuoteNothing).
	if n := agg.Pending(); n != 0 {
		t.Fatalf("rejected events left %d counter rows", n)
	}

	// Sanity: the same request done right is counted.
	resp, _ := do(t, app, eventReq(ok))
	if resp.StatusCode != http.StatusAccepted || agg.Pending() == 0 {
		t.Fatalf("a valid event: status %d, pending %d", resp.StatusCode, agg.Pending())
	}
}

func TestEventFromOtherOrigins(t *testing.T) {
	app, _ := newTestApp(t)
	req := eventReq(`{"name":"pageview","url":"https://example.com/","domain":"example.com"}`, "Origin", "https://example.com", "Content-Type", "text/plain")
	resp, _ := do(t, app, req)
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("status %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestOddUserAgentsAreFilteredNotFatal(t *testing.T) {
	app, agg := newTestApp(t)
	for _, ua := range []string{"", "\xff\xfe\x80", strings.Repeat("Mozilla/5.0 ", 300), "curl/8.5.0"} {
		req := eventReq(`{"name":"pageview","url":"https://example.com/","domain":"example.com"}`)
		req.Header.Set("User-Agent", ua)
		resp, body := do(t, app, req)
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("UA %.20q: status %d %s", ua, resp.StatusCode, body)
		}
	}
	// Four filtered hits, in as many reason rows as there are reasons, and
	// no traffic: a "total" row would be traffic.
	if n := agg.Pending(); n == 0 || n > 4 {
		t.Fatalf("pending rows = %d, want 1 to 4 filtered rows", n)
	}
}

// assertGIF checks a pixel answer: 200, a decodable 1x1 GIF, never cached.
func assertGIF(t *testing.T, name string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/gif" {
		t.Errorf("%s: status %d, type %q", name, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("%s: Cache-Control %q lacks no-store", name, resp.Header.Get("Cache-Control"))
	}
	img, err := gif.Decode(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s: not a valid GIF: %v", name, err)
		return
	}
	if b := img.Bounds(); b.Dx() != 1 || b.Dy() != 1 {
		t.Errorf("%s: image is %dx%d", name, b.Dx(), b.Dy())
	}
}

func TestPixelsAlwaysAnswerTheGIF(t *testing.T) {
	app, agg := newTestApp(t)
	get := func(target string, header ...string) (*http.Response, []byte) {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("User-Agent", chrome)
		req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return do(t, app, req)
	}
	bad := map[string][]string{
		"/p.gif":                              nil,
		"/p.gif?d=nope.example":               {"Referer", "https://example.com/"},
		"/p.gif?d=example.com":                nil, // no page
		"/p.gif?d=example.com&u=javascript:1": nil,
		"/p.gif?d=example.com&consent=maybe":  {"Referer", "https://example.com/"},
		"/p.gif?d=example.com&u=%ff%fe":       nil,
		"/p.gif?d=example.com&x=1":            {"Referer", "https://example.com/", "X-Forwarded-For", "not-an-ip"},
		"/e/example.com/spring.gif":           nil, // unsigned
		"/e/example.com/spring.gif?s=AAAA":    nil,
		"/e/example.com/spring.png?s=AAAA":    nil,
		"/e/nope.example/spring.gif":          nil,
		"/e/example.com/" + pixel.Sign([]byte(testSecret), pixel.Claims{Site: "example.com", Campaign: "x"}): nil,
	}
	for target, header := range bad {
		resp, body := get(target, header...)
		assertGIF(t, target, resp, body)
	}
	if n := agg.Pending(); n != 0 {
		t.Fatalf("bad pixel hits left %d counter rows", n)
	}
	resp, body := get("/p.gif?d=example.com", "Referer", "https://example.com/ok")
	assertGIF(t, "valid web pixel", resp, body)
	signed := pixel.EmailURL("", []byte(testSecret), pixel.Claims{Site: "example.com", Campaign: "spring", Recipient: "r1"})
	resp, body = get(signed)
	assertGIF(t, "valid email pixel", resp, body)
	if agg.Pending() == 0 {
		t.Fatal("valid pixels were not counted")
	}
}

func TestCampaignSent(t *testing.T) {
	app, agg := newTestApp(t)
	post := func(id, body, token string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/campaigns/"+id+"/sent", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, _ := do(t, app, req)
		return resp.StatusCode
	}
	f := func(name string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s: status %d, want %d", name, got, want)
		}
	}
	f("no token", post("spring", `{"site":"example.com","count":10}`, ""), 401)
	f("wrong token", post("spring", `{"site":"example.com","count":10}`, "nope"), 401)
	f("unknown site", post("spring", `{"site":"nope.example","count":10}`, testSecret), 400)
	f("zero count", post("spring", `{"site":"example.com","count":0}`, testSecret), 400)
	f("bad campaign", post("spr%20ing", `{"site":"example.com","count":10}`, testSecret), 400)
	f("malformed", post("spring", `{"site":`, testSecret), 400)
	if agg.Pending() != 0 {
		t.Fatal("refused reports were counted")
	}
	f("valid", post("spring", `{"site":"example.com","count":10}`, testSecret), 202)
	if agg.Pending() != 1 {
		t.Fatalf("pending = %d, want the one sent row", agg.Pending())
	}
}

func TestScriptHealthMetrics(t *testing.T) {
	app, _ := newTestApp(t)
	resp, body := do(t, app, httptest.NewRequest(http.MethodGet, "/js/script.js", nil))
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") || !bytes.Contains(body, []byte("/api/event")) {
		t.Errorf("script.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("script.js without Accept-Encoding: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	// Browsers get it gzipped, the same bytes.
	req := httptest.NewRequest(http.MethodGet, "/js/script.js", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	resp, gz := do(t, app, req)
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("script.js to a browser: Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	} else if zr, err := gzip.NewReader(bytes.NewReader(gz)); err != nil {
		t.Errorf("script.js gzipped: %v", err)
	} else if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, body) || len(gz) >= len(body)/2 {
		t.Errorf("script.js gzipped: %d bytes for %d (%v), same bytes: %v", len(gz), len(body), err, bytes.Equal(plain, body))
	}
	resp, _ = do(t, app, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	do(t, app, eventReq(`{"name":"pageview","url":"https://example.com/","domain":"example.com"}`))
	do(t, app, eventReq(`{bad`))
	_, body = do(t, app, metricsReq())
	for _, want := range []string{`tally_hits_total{kind="event",outcome="counted"} 1`, `tally_hits_rejected_total{kind="event",reason="malformed"} 1`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Without the token, /metrics is refused.
	if resp, _ := do(t, app, httptest.NewRequest(http.MethodGet, "/metrics", nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", resp.StatusCode)
	}
	resp, body = do(t, app, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if resp.StatusCode != 404 || !bytes.Contains(body, []byte(`"error"`)) {
		t.Errorf("unknown route: %d %s", resp.StatusCode, body)
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"name":"pageview","url":"https://example.com/","domain":"example.com"}`,
		`{"n":"pageview","u":"https://example.com/","d":"example.com","r":null,"p":{"a":1}}`,
		`{"name":"x","url":"y","domain":"z","consent":{"analytics":"granted","tcf":"CO"}}`,
		`{`, `null`, `[]`, `""`,
	} {
		f.Add([]byte(s))
	}
	// Errors come from a fixed set of texts: they never quote the body
	// (JSON field names are ours).
	fixed := []string{"malformed JSON: syntax error at byte ", "malformed JSON: field ", "malformed JSON: not a JSON object",
		"name is required", "url is required", "domain is required", "consent.analytics: invalid consent value", errEmptyBody.Error(),
		"props", "meta", "revenue"}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := (&eventParser{}).parse(body)
		if err != nil {
			if !slices.ContainsFunc(fixed, func(p string) bool { return strings.HasPrefix(err.Error(), p) }) {
				t.Fatalf("error %q is not one of the fixed texts", err)
			}
			return
		}
		if ev.Name == "" || ev.URL == "" || ev.Domain == "" {
			t.Fatalf("accepted an event without name, url or domain: %+v", ev)
		}
		if ev.Domain != strings.ToLower(strings.TrimSpace(ev.Domain)) {
			t.Fatalf("domain %q is not normalised", ev.Domain)
		}
		if s := ev.Consent.Analytics; s != consent.Unknown && s != consent.Granted && s != consent.Denied {
			t.Fatalf("consent state %d", s)
		}
	})
}

// TestRefusalsAreCountedByReason: each way a counting route refuses a hit
// is counted under its kind and a reason from the fixed set, and the API
// answers it with its status.
func TestRefusalsAreCountedByReason(t *testing.T) {
	app, _ := newTestApp(t)
	sent := func(body, token string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/api/campaigns/spring/sent", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		return req
	}
	pixelReq := func(target string, header ...string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("User-Agent", chrome)
		req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return req
	}
	ok := `{"name":"pageview","url":"https://example.com/","domain":"example.com"}`
	for _, tc := range []struct {
		req    *http.Request
		status int
		metric string
	}{
		{eventReq(`{`), 400, `tally_hits_rejected_total{kind="event",reason="malformed"}`},
		{eventReq(`{"name":"pageview","url":"https://example.com/","domain":"nope.example"}`), 400, `tally_hits_rejected_total{kind="event",reason="unknown_site"}`},
		{eventReq(ok, "X-Forwarded-For", "not-an-ip"), 400, `tally_hits_rejected_total{kind="event",reason="bad_forwarded_header"}`},
		{eventReq(`{"name":"pageview","url":"/x","domain":"example.com"}`), 400, `tally_hits_rejected_total{kind="event",reason="bad_url"}`},
		{eventReq(`{"name":"pageview","url":"https://evil.example/","domain":"example.com"}`), 400, `tally_hits_rejected_total{kind="event",reason="foreign_host"}`},
		{eventReq(`{"name":"a\u0001","url":"https://example.com/","domain":"example.com"}`), 400, `tally_hits_rejected_total{kind="event",reason="bad_name"}`},
		{sent(`{`, testSecret), 400, `tally_hits_rejected_total{kind="sent",reason="malformed"}`},
		{sent(`{"site":"nope.example","count":1}`, testSecret), 400, `tally_hits_rejected_total{kind="sent",reason="unknown_site"}`},
		{sent(`{"site":"example.com","count":1}`, "nope"), 401, `tally_hits_rejected_total{kind="sent",reason="unauthorized"}`},
		{sent(`{"site":"example.com","count":0}`, testSecret), 400, `tally_hits_rejected_total{kind="sent",reason="bad_campaign"}`},
		{pixelReq("/p.gif?d=nope.example", "Referer", "https://example.com/"), 200, `tally_hits_rejected_total{kind="web_pixel",reason="invalid"}`},
		{pixelReq("/p.gif?d=example.com", "Referer", "https://example.com/", "X-Forwarded-For", "not-an-ip"), 200, `tally_hits_rejected_total{kind="web_pixel",reason="bad_forwarded_header"}`},
		{pixelReq("/p.gif?d=example.com&u=https://evil.example/"), 200, `tally_hits_rejected_total{kind="web_pixel",reason="foreign_host"}`},
		{pixelReq("/e/example.com/spring.png"), 200, `tally_hits_rejected_total{kind="email_pixel",reason="invalid"}`},
		{pixelReq("/e/example.com/spring.gif?s=AAAA"), 200, `tally_hits_total{kind="email_pixel",outcome="unsigned"}`},
		{pixelReq("/p.gif?d=example.com", "Referer", "https://example.com/"), 200, `tally_hits_total{kind="web_pixel",outcome="counted"}`},
		{sent(`{"site":"example.com","count":1}`, testSecret), 202, `tally_hits_total{kind="sent",outcome="counted"}`},
	} {
		before := metricValue(t, app, tc.metric)
		resp, body := do(t, app, tc.req)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d (%s), want %d", tc.req.Method, tc.req.URL, resp.StatusCode, body, tc.status)
		}
		if got := metricValue(t, app, tc.metric); got != before+1 {
			t.Errorf("%s %s: %s went from %d to %d, want one more", tc.req.Method, tc.req.URL, tc.metric, before, got)
		}
	}
}

// metricValue reads one counter from /metrics; 0 when absent.
func metricValue(t *testing.T, app *fiber.App, series string) int {
	t.Helper()
	for line := range strings.Lines(metricsBody(t, app)) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return int(n)
		}
	}
	return 0
}
