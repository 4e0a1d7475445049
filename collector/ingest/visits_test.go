package ingest_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"tally/collector/consent"
	"tally/collector/ingest"
	"tally/collector/visits"
	"tally/counter"
	"tally/internal/testpipe"
	"tally/sites"
)

// visitEnv is a pipeline on the fixed clock for one site with two
// hostnames and path rules, and helpers to send a visitor's hits.
type visitEnv struct {
	t      *testing.T
	pipe   *testpipe.Pipe
	site   *sites.Site
	client ingest.Client
}

func newVisitEnv(t *testing.T, mode string) *visitEnv {
	t.Helper()
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"shop.example","hostnames":["www.shop.example"],"consent_mode":"` + mode + `","path_rules":["/u/*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	site, _ := reg.Lookup("shop.example")
	return &visitEnv{t: t, site: site,
		pipe:   testpipe.New(t, testpipe.Options{Regions: benchGeo, Now: func() time.Time { return testNow }}),
		client: ingest.Client{IP: netip.MustParseAddr("10.1.2.3"), UserAgent: firefox, Language: "de", AcceptLanguage: true}}
}

func (e *visitEnv) view(path, ref string, f visits.Flags) {
	e.t.Helper()
	ev := ingest.Event{Site: e.site, Name: ingest.PageviewName, URL: "https://shop.example" + path, Referrer: ref,
		Visit: visits.Hit{Flags: f, Script: true}}
	if o, err := e.pipe.Pipeline.Event(ev, e.client); err != nil || o != ingest.Counted {
		e.t.Fatalf("page view %s: %v %v", path, o, err)
	}
}

func (e *visitEnv) engage(path, ref string, r visits.Report) ingest.Outcome {
	e.t.Helper()
	o, err := e.pipe.Pipeline.Engagement(ingest.Engagement{Site: e.site, URL: "https://shop.example" + path, Referrer: ref, Report: r}, e.client)
	if err != nil {
		e.t.Fatalf("engagement %s: %v", path, err)
	}
	return o
}

func (e *visitEnv) rows() map[counter.WebKey]counter.WebCounts {
	e.t.Helper()
	if err := e.pipe.Aggregator.Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return e.pipe.Sink.WebRows()
}

func (e *visitEnv) row(dim, value string) counter.WebCounts {
	return e.rows()[counter.WebKey{Site: "shop.example", Hour: counter.HourOf(testNow), Dimension: dim, Value: value}]
}

// TestVisitThroughThePipeline follows one visit of our tracker: an entry
// from a search engine, a step to a second page, engagement on both, and
// the exit. Every dimension row of the entry gets the visit, and its bounce
// is taken back in each of them.
func TestVisitThroughThePipeline(t *testing.T) {
	e := newVisitEnv(t, "anonymous")
	ours := visits.Tracked
	e.view("/a", "https://www.google.com/search?q=x", ours)
	e.engage("/a", "https://www.google.com/search?q=x", visits.Report{EngagedMS: 4000, Scroll: 60, Flags: ours | visits.First | visits.NotBounce})
	e.view("/u/alice/settings", "https://shop.example/a", ours)
	e.engage("/u/alice/settings", "https://shop.example/a", visits.Report{EngagedMS: 2500, Scroll: 30, Flags: ours | visits.First})
	e.engage("/u/alice/settings", "https://shop.example/a", visits.Report{EngagedMS: 500, Scroll: 90, PrevScroll: 30, Flags: ours})

	rows := e.rows()
	hour := counter.HourOf(testNow)
	get := func(dim, value string) counter.WebCounts {
		return rows[counter.WebKey{Site: "shop.example", Hour: hour, Dimension: dim, Value: value}]
	}
	// The entry's dimension rows: one visit, tracked, not a bounce.
	for _, k := range [][2]string{{"total", ""}, {"path", "/a"}, {"source", "Google"}, {"country", "DE"}, {"region", "DE-BY"},
		{"browser", "Firefox"}, {"os", "Linux"}, {"device", "desktop"}, {"language", "de"}, {"utm_source", ""}} {
		c := get(k[0], k[1])
		if c.Visits != 1 || c.TrackedVisits != 1 || c.Bounces != 0 {
			t.Errorf("%s=%q: visits %d tracked %d bounces %d, want 1, 1, 0", k[0], k[1], c.Visits, c.TrackedVisits, c.Bounces)
		}
	}
	a, s := get("path", "/a"), get("path", "/u/*/settings")
	if a.Exits != 0 || s.Exits != 1 {
		t.Errorf("exits: /a %d, /u/*/settings %d; want 0 and 1", a.Exits, s.Exits)
	}
	if a.EngagedMS != 4000 || a.EngagedViews != 1 || a.ScrollSum != 60 || a.ScrollViews != 1 {
		t.Errorf("/a engagement: %+v", a)
	}
	if s.EngagedMS != 3000 || s.EngagedViews != 1 || s.ScrollSum != 90 || s.ScrollViews != 1 || s.Pageviews != 1 {
		t.Errorf("/u/*/settings engagement (time summed, deepest scroll once): %+v", s)
	}
	tot := get("total", "")
	if tot.Pageviews != 2 || tot.Hits != 2 || tot.EngagedMS != 7000 || tot.EngagedViews != 2 || tot.ScrollSum != 150 || tot.ScrollViews != 2 {
		t.Errorf("total: %+v", tot)
	}
	// Reports are neither page views nor custom events, nor hits in the
	// consent rate.
	for k, c := range rows {
		if k.Dimension == counter.DimEvent {
			t.Errorf("an engagement report counted as event %q", k.Value)
		}
		if k.Dimension == counter.DimConsent && c.Hits != 2 {
			t.Errorf("consent %s counts %d hits, want the 2 page views", k.Value, c.Hits)
		}
		if strings.Contains(k.Value, "alice") {
			t.Errorf("%s row keeps an identifier from a referrer: %q", k.Dimension, k.Value)
		}
	}
}

// TestReferrerChain: without our tracker's flags, page views alone take
// exits back along their referrers, count visits from outside, and assume
// no bounce. A host of the site's other hostnames is internal too.
func TestReferrerChain(t *testing.T) {
	e := newVisitEnv(t, "anonymous")
	e.view("/", "", 0)
	e.view("/pricing", "https://www.shop.example/", 0)          // from the other hostname
	e.view("/signup", "https://shop.example/pricing?plan=x", 0) // the query is not part of the path
	e.view("/", "https://news.ycombinator.com/item?id=1", 0)
	e.view("/docs", "android-app://com.example.app/", 0) // not a web page: from outside
	rows := e.rows()
	hour := counter.HourOf(testNow)
	want := map[string][2]int64{"/": {2, 1}, "/pricing": {0, 0}, "/signup": {0, 1}, "/docs": {1, 1}} // visits, exits
	for path, w := range want {
		c := rows[counter.WebKey{Site: "shop.example", Hour: hour, Dimension: "path", Value: path}]
		if c.Visits != w[0] || c.Exits != w[1] || c.Bounces != 0 || c.TrackedVisits != 0 {
			t.Errorf("%s: visits %d exits %d bounces %d tracked %d, want %d, %d, 0, 0", path, c.Visits, c.Exits, c.Bounces, c.TrackedVisits, w[0], w[1])
		}
	}
	if tot := rows[counter.WebKey{Site: "shop.example", Hour: hour, Dimension: "total"}]; tot.Visits != 3 || tot.Pageviews != 5 {
		t.Errorf("total: %+v", tot)
	}
	if src := rows[counter.WebKey{Site: "shop.example", Hour: hour, Dimension: "source", Value: "Hacker News"}]; src.Visits != 1 {
		t.Errorf("source Hacker News: %+v", src)
	}
}

// TestPixelWithoutReferrerSaysNothing: a pixel that cannot know its
// referrer counts a page view and nothing of visits or exits.
func TestPixelWithoutReferrerSaysNothing(t *testing.T) {
	e := newVisitEnv(t, "anonymous")
	ev := ingest.Event{Site: e.site, Name: ingest.PageviewName, URL: "https://shop.example/", Visit: visits.Hit{NoReferrer: true}}
	if _, err := e.pipe.Pipeline.Event(ev, e.client); err != nil {
		t.Fatal(err)
	}
	if c := e.row("path", "/"); c != (counter.WebCounts{Hits: 1, Pageviews: 1}) {
		t.Errorf("pixel without r=: %+v", c)
	}
}

// TestEngagementPassesTheGates: a report is refused where a page view
// would be (bad URL, foreign host, nothing in it) and records nothing
// where consent or the bot filter stops it.
func TestEngagementPassesTheGates(t *testing.T) {
	strict := newVisitEnv(t, "strict")
	r := visits.Report{EngagedMS: 1000, Scroll: 50}
	if o := strict.engage("/", "", r); o != ingest.ConsentOnly {
		t.Errorf("strict mode without consent: %s", o)
	}
	if rows := strict.rows(); len(rows) != 0 {
		t.Errorf("a report without consent recorded %v", rows)
	}
	o, err := strict.pipe.Pipeline.Engagement(ingest.Engagement{Site: strict.site, URL: "https://shop.example/",
		Consent: consent.Signals{Analytics: consent.Granted}, Report: r}, strict.client)
	if err != nil || o != ingest.Counted || strict.row("path", "/").EngagedMS != 1000 {
		t.Errorf("strict mode with consent: %s %v", o, err)
	}

	e := newVisitEnv(t, "anonymous")
	e.client.UserAgent = "Googlebot/2.1 (+http://www.google.com/bot.html)"
	if o := e.engage("/", "", r); o != ingest.Filtered {
		t.Errorf("a bot's report: %s", o)
	}
	if rows := e.rows(); len(rows) != 0 {
		t.Errorf("a bot's report recorded %v", rows)
	}
	for _, c := range []struct {
		url  string
		r    visits.Report
		want error
	}{
		{"https://other.example/", r, ingest.ErrForeignHost},
		{"not a url", r, nil},
		{"https://shop.example/", visits.Report{Scroll: visits.NoScroll}, visits.ErrEmptyEngagement},
	} {
		_, err := e.pipe.Pipeline.Engagement(ingest.Engagement{Site: e.site, URL: c.url, Report: c.r}, e.client)
		if err == nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s %+v: %v, want %v", c.url, c.r, err, c.want)
		}
	}
}

// TestEngagementAllocatesNothing: a report on a known page in steady state
// costs no allocation, nor does a page view with an internal referrer.
func TestEngagementAllocatesNothing(t *testing.T) {
	e := newVisitEnv(t, "anonymous")
	eng := ingest.Engagement{Site: e.site, URL: "https://shop.example/docs", Referrer: "https://www.google.com/",
		Report: visits.Report{EngagedMS: 1200, Scroll: 40, Flags: visits.Tracked | visits.NotBounce}}
	ev := ingest.Event{Site: e.site, Name: ingest.PageviewName, URL: "https://shop.example/docs", Referrer: "https://shop.example/pricing",
		Visit: visits.Hit{Flags: visits.Tracked, Script: true}}
	run := func() {
		e.pipe.Pipeline.Engagement(eng, e.client)
		e.pipe.Pipeline.Event(ev, e.client)
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("%v allocations per report and page view", n)
	}
}

// TestOptOutMode: consent is assumed unless a signal withdraws it, for
// visitors and for email opens alike.
func TestOptOutMode(t *testing.T) {
	e := newVisitEnv(t, "optout")
	hit := func(path string, sig consent.Signals, dnt bool) {
		t.Helper()
		c := e.client
		c.DNT = dnt
		if _, err := e.pipe.Pipeline.Event(ingest.Event{Site: e.site, Name: ingest.PageviewName, URL: "https://shop.example" + path, Consent: sig}, c); err != nil {
			t.Fatal(err)
		}
	}
	hit("/a", consent.Signals{}, false)                          // nothing said: a visitor
	hit("/b", consent.Signals{Analytics: consent.Denied}, false) // withdrawn: counted, no visitor
	hit("/c", consent.Signals{}, true)                           // DNT withdraws too
	hit("/d", consent.Signals{TCF: tcfStrings[1]}, false)        // a TCF string without purpose 8
	for path, want := range map[string]int64{"/a": 1, "/b": 0, "/c": 0, "/d": 0} {
		if c := e.row("path", path); c.Pageviews != 1 || c.Visitors != want {
			t.Errorf("%s: %+v, want 1 page view and %d visitors", path, c, want)
		}
	}
	if c := e.row("consent", "unknown"); c.Hits != 1 {
		t.Errorf("consent unknown (assumed): %+v", c)
	}
	if c := e.row("consent", "denied"); c.Hits != 3 {
		t.Errorf("consent denied: %+v", c)
	}
	// An open of the same recipient twice counts one unique open, without a
	// consent bit in the URL.
	for range 2 {
		if _, err := e.pipe.Pipeline.EmailOpen(ingest.Open{Site: e.site, Campaign: "spring", Recipient: "r1"}, e.client); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.pipe.Aggregator.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := e.pipe.Sink.Email(counter.EmailKey{Site: "shop.example", Campaign: "spring", Hour: counter.HourOf(testNow), Dimension: counter.DimTotal})
	if got.Opens != 2 || got.UniqueOpens != 1 {
		t.Errorf("opens in optout mode: %+v", got)
	}
}

// TestPageViewTableIsPageView: the cases made once at start are what
// visits.PageView says for every hit they stand for.
func TestPageViewTableIsPageView(t *testing.T) {
	for f := visits.Flags(0); f <= visits.Tracked|visits.Reload|visits.BackForward|visits.First; f++ {
		for _, script := range []bool{false, true} {
			for _, internal := range []bool{false, true} {
				for _, noRef := range []bool{false, true} {
					h := visits.Hit{Flags: visits.ParseFlags(int64(f)), Script: script, NoReferrer: noRef}
					got := ingest.VisitRows(h, internal)
					v := visits.PageView(h, visits.Arrive(h, internal))
					want := [3]counter.WebCounts{{Hits: 1, Pageviews: 1}, {}, {}}
					want[0].Add(v.Every)
					want[1], want[2] = want[0], want[0]
					want[1].Add(v.Path)
					want[2].Add(v.Total)
					if got != want {
						t.Errorf("%+v internal %v: %+v, want %+v", h, internal, got, want)
					}
				}
			}
		}
	}
}
