package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"tally/collector/clientip"
	"tally/collector/metrics"
	"tally/counter"
	"tally/internal/testpipe"
	"tally/sites"
)

// newSinkApp is the real app and pipeline with the memsink the pipeline
// flushes to, for tests that read counter rows.
func newSinkApp(t *testing.T) (*fiber.App, func() map[counter.WebKey]counter.WebCounts) {
	t.Helper()
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
	rows := func() map[counter.WebKey]counter.WebCounts {
		t.Helper()
		if err := p.Aggregator.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := map[counter.WebKey]counter.WebCounts{}
		for k, c := range p.Sink.WebRows() {
			k.Hour = 0
			out[k] = c
		}
		return out
	}
	return app, rows
}

func key(dim, value string) counter.WebKey {
	return counter.WebKey{Site: "example.com", Dimension: dim, Value: value}
}

// TestPlausibleEngagementEvent posts engagement events as Plausible's
// tracker sends them (short keys, sd and e, its version as v; sd may come
// as a string, and is clamped at 100): they add engaged time and scroll
// depth to the page, and are never a custom event or a page view.
func TestPlausibleEngagementEvent(t *testing.T) {
	app, rows := newSinkApp(t)
	post := func(body string, want int) string {
		t.Helper()
		resp, b := do(t, app, eventReq(body))
		if resp.StatusCode != want {
			t.Fatalf("%s: status %d (%s), want %d", body, resp.StatusCode, b, want)
		}
		return string(b)
	}
	post(`{"n":"pageview","u":"https://example.com/docs","d":"example.com","r":null,"v":27}`, 202)
	post(`{"n":"engagement","u":"https://example.com/docs","d":"example.com","sd":"35","e":4200,"v":27,"p":{"x":"y"}}`, 202)
	post(`{"n":"engagement","u":"https://example.com/docs","d":"example.com","sd":140,"e":"800","v":27}`, 202)
	// Neither a valid sd nor a valid e (e = 0 counts as none): refused
	// with Plausible's words.
	for _, bad := range []string{
		`{"n":"engagement","u":"https://example.com/docs","d":"example.com"}`,
		`{"n":"engagement","u":"https://example.com/docs","d":"example.com","sd":-1,"e":0}`,
		`{"n":"engagement","u":"https://example.com/docs","d":"example.com","sd":"lots","e":2592000000}`,
		`{"n":"engagement","u":"https://example.com/docs","d":"example.com","sd":12.5,"e":null}`,
	} {
		if msg := post(bad, 400); !strings.Contains(msg, "requires a valid integer value for at least one of 'sd' or 'e'") {
			t.Errorf("%s: %s", bad, msg)
		}
	}
	r := rows()
	docs := r[key(counter.DimPath, "/docs")]
	if docs.Pageviews != 1 || docs.Hits != 1 || docs.EngagedMS != 5000 || docs.EngagedViews != 1 || docs.ScrollSum != 135 || docs.ScrollViews != 2 {
		t.Errorf("/docs: %+v", docs)
	}
	if docs.Visits != 1 || docs.Exits != 1 || docs.TrackedVisits != 0 || docs.Bounces != 0 {
		t.Errorf("/docs visit counters from Plausible's page view: %+v", docs)
	}
	for k := range r {
		if k.Dimension == counter.DimEvent {
			t.Errorf("engagement counted as custom event %q", k.Value)
		}
	}
}

// TestTrackerFlagsReachTheCounters: our tracker's tf and sp members, its
// referrer on an engagement report, and the Accept-Language header.
func TestTrackerFlagsReachTheCounters(t *testing.T) {
	app, rows := newSinkApp(t)
	post := func(body string) {
		t.Helper()
		resp, b := do(t, app, eventReq(body, "Accept-Language", "fr-CH, fr;q=0.9, en;q=0.8"))
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: status %d (%s)", body, resp.StatusCode, b)
		}
	}
	// Entry from a search engine, left for /b; /b reloaded, then left.
	post(`{"name":"pageview","url":"https://example.com/a","domain":"example.com","referrer":"https://duckduckgo.com/","tf":1}`)
	post(`{"name":"engagement","url":"https://example.com/a","domain":"example.com","referrer":"https://duckduckgo.com/","sd":50,"e":3000,"tf":25}`) // Tracked|First|NotBounce
	post(`{"name":"pageview","url":"https://example.com/b","domain":"example.com","referrer":"https://example.com/a","tf":1}`)
	post(`{"name":"pageview","url":"https://example.com/b","domain":"example.com","referrer":"https://example.com/a","tf":3}`) // reload
	post(`{"name":"engagement","url":"https://example.com/b","domain":"example.com","referrer":"https://example.com/a","sd":20,"e":1000,"tf":9}`)
	post(`{"name":"engagement","url":"https://example.com/b","domain":"example.com","referrer":"https://example.com/a","sd":70,"sp":20,"e":1000,"tf":1}`)
	r := rows()
	a, b, tot := r[key(counter.DimPath, "/a")], r[key(counter.DimPath, "/b")], r[key(counter.DimTotal, "")]
	if a.Visits != 1 || a.TrackedVisits != 1 || a.Bounces != 0 || a.Exits != 0 {
		t.Errorf("/a: %+v", a)
	}
	if b.Visits != 0 || b.Exits != 1 || b.Pageviews != 2 || b.EngagedMS != 2000 || b.ScrollSum != 70 || b.ScrollViews != 1 {
		t.Errorf("/b: %+v", b)
	}
	if tot.Visits != 1 || tot.Bounces != 0 || tot.Pageviews != 3 || tot.EngagedMS != 5000 || tot.EngagedViews != 3 {
		t.Errorf("total: %+v", tot)
	}
	if src := r[key(counter.DimSource, "DuckDuckGo")]; src.Visits != 1 || src.Bounces != 0 || src.TrackedVisits != 1 {
		t.Errorf("source: %+v", src)
	}
	if fr := r[key(counter.DimLanguage, "fr")]; fr.Pageviews != 3 || fr.Visits != 1 {
		t.Errorf("language fr: %+v", fr)
	}
	for k := range r {
		if k.Dimension == counter.DimLanguage && k.Value != "fr" {
			t.Errorf("language row %q: only the primary subtag of the first choice is kept", k.Value)
		}
	}
}

// TestPixelReferrer: the pixel's r= decides whether its page view says
// anything of visits; without it, nothing.
func TestPixelReferrer(t *testing.T) {
	app, rows := newSinkApp(t)
	for _, q := range []string{
		"d=example.com&u=https%3A%2F%2Fexample.com%2Fa",                                 // no r=: unknown
		"d=example.com&u=https%3A%2F%2Fexample.com%2Fa&r=",                              // an empty referrer: a visit
		"d=example.com&u=https%3A%2F%2Fexample.com%2Fb&r=https%3A%2F%2Fexample.com%2Fa", // a step from /a
	} {
		req := httptest.NewRequest(http.MethodGet, "/p.gif?"+q, nil)
		req.Header.Set("User-Agent", chrome)
		req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
		if resp, _ := do(t, app, req); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", q, resp.StatusCode)
		}
	}
	r := rows()
	if a := r[key(counter.DimPath, "/a")]; a.Pageviews != 2 || a.Visits != 1 || a.Exits != 0 || a.EngagedViews != 0 {
		t.Errorf("/a: %+v", a)
	}
	if b := r[key(counter.DimPath, "/b")]; b.Visits != 0 || b.Exits != 1 {
		t.Errorf("/b: %+v", b)
	}
}
