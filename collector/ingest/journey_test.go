package ingest_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"tally/collector/consent"
	"tally/collector/ingest"
	"tally/collector/journey"
	"tally/collector/visits"
	"tally/counter"
	"tally/goals"
	"tally/internal/testpipe"
	"tally/sites"
)

// journeySite declares two goals and a three-step funnel.
const journeySite = `{"sites":[{"domain":"shop.example","consent_mode":"%MODE%",
	"goals":[{"event":"Signup"},{"name":"Thanks","path":"/thank-you"}],
	"funnels":[{"name":"Buy","steps":[{"path":"/pricing"},{"path":"/signup"},{"goal":"Signup"}]}]}]}`

type journeyEnv struct {
	t        *testing.T
	pipe     *testpipe.Pipe
	site     *sites.Site
	journeys *journey.Journeys
	consent  consent.State
}

func newJourneyEnv(t *testing.T, mode string, set func(*ingest.Options)) *journeyEnv {
	t.Helper()
	reg, err := sites.Parse(strings.NewReader(strings.ReplaceAll(journeySite, "%MODE%", mode)))
	if err != nil {
		t.Fatal(err)
	}
	site, _ := reg.Lookup("shop.example")
	e := &journeyEnv{t: t, site: site, journeys: journey.New(func() time.Time { return testNow })}
	registry := goals.NewRegistry(map[string]goals.Config{site.Domain: site.Conversions}, nil)
	e.pipe = testpipe.New(t, testpipe.Options{Now: func() time.Time { return testNow }, Pipeline: func(o *ingest.Options) {
		o.Goals, o.Journeys = registry, e.journeys
		if set != nil {
			set(o)
		}
	}})
	return e
}

// visitor is one scripted person: an address and agent of their own.
type visitor struct {
	e      *journeyEnv
	client ingest.Client
}

func (e *journeyEnv) visitor(ip string) *visitor {
	return &visitor{e: e, client: ingest.Client{IP: netip.MustParseAddr(ip), UserAgent: firefox, Language: "en", AcceptLanguage: true}}
}

func (v *visitor) hit(name, path, ref string) {
	v.e.t.Helper()
	ev := ingest.Event{Site: v.e.site, Name: name, URL: "https://shop.example" + path, Referrer: ref,
		Consent: consent.Signals{Analytics: v.e.consent}, Visit: visits.Hit{Script: true}}
	if o, err := v.e.pipe.Pipeline.Event(ev, v.client); err != nil || o != ingest.Counted {
		v.e.t.Fatalf("%s %s: %v %v", name, path, o, err)
	}
}

func (v *visitor) view(path, ref string) { v.hit(ingest.PageviewName, path, ref) }
func (v *visitor) event(name string)     { v.hit(name, "/app", "https://shop.example/app") }

// script is the scripted day:
//   - a: from Google to /blog, then /pricing, /signup, Signup, /thank-you,
//     and Signup again later: funnel steps 1 to 3, two conversions of
//     Signup (one visitor), one of Thanks;
//   - b: enters at /pricing?utm_campaign=spring with no referrer (direct),
//     converts Signup before /signup (out of order: no step 3), then
//     /signup (step 2);
//   - c: an internal page view of /pricing with no visit seen today (it
//     started before a restart, say), then Signup: step 1, and the
//     conversion attributed to (unknown);
//   - d: enters from Bing at /docs, converts nothing and reaches no step.
func script(e *journeyEnv) {
	a, b, c, d := e.visitor("10.0.0.1"), e.visitor("10.0.0.2"), e.visitor("10.0.0.3"), e.visitor("10.0.0.4")
	a.view("/blog", "https://www.google.com/")
	a.view("/pricing", "https://shop.example/blog")
	b.view("/pricing?utm_campaign=spring", "")
	a.view("/signup", "https://shop.example/pricing")
	b.event("Signup")
	c.view("/pricing", "https://shop.example/")
	a.event("Signup")
	d.view("/docs", "https://www.bing.com/")
	a.view("/thank-you", "https://shop.example/signup")
	b.view("/signup", "https://shop.example/pricing")
	c.event("Signup")
	a.event("Signup")
	b.view("/pricing", "https://shop.example/signup")
}

// journeyRows are the rows of the attribution and funnel dimensions.
func (e *journeyEnv) journeyRows() map[string]counter.WebCounts {
	e.t.Helper()
	if err := e.pipe.Aggregator.Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]counter.WebCounts{}
	for k, c := range e.pipe.Sink.WebRows() {
		switch k.Dimension {
		case "goal_source", "goal_campaign", "goal_entry", "funnel":
			out[k.Dimension+" "+strings.ReplaceAll(k.Value, "\t", "|")] = c
		}
	}
	return out
}

type hv struct{ hits, visitors int64 }

func wantRows(t *testing.T, got map[string]counter.WebCounts, want map[string]hv) {
	t.Helper()
	for k, w := range want {
		c, ok := got[k]
		if !ok || c.Hits != w.hits || c.Visitors != w.visitors {
			t.Errorf("%s: hits %d visitors %d (present %v), want %d %d", k, c.Hits, c.Visitors, ok, w.hits, w.visitors)
		}
	}
	for k, c := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected row %s: %+v", k, c)
		}
	}
}

// scriptRows are the rows script must make where the visitors' daily key
// is computed.
var scriptRows = map[string]hv{
	"funnel Buy|1": {3, 3}, // a, b, c
	"funnel Buy|2": {2, 2}, // a, b
	"funnel Buy|3": {1, 1}, // a

	"goal_source Signup|Google":    {2, 1},
	"goal_source Signup|":          {1, 1}, // b: direct
	"goal_source Signup|(unknown)": {1, 1}, // c
	"goal_source Thanks|Google":    {1, 1},

	"goal_campaign Signup|":          {2, 1}, // a: no campaign
	"goal_campaign Signup|spring":    {1, 1},
	"goal_campaign Signup|(unknown)": {1, 1},
	"goal_campaign Thanks|":          {1, 1},

	"goal_entry Signup|/blog":     {2, 1},
	"goal_entry Signup|/pricing":  {1, 1},
	"goal_entry Signup|(unknown)": {1, 1},
	"goal_entry Thanks|/blog":     {1, 1},
}

func TestJourneyScriptOptOut(t *testing.T) {
	e := newJourneyEnv(t, "optout", nil)
	script(e)
	wantRows(t, e.journeyRows(), scriptRows)
	// a, b, c and d each have state (d started a visit).
	if n := e.journeys.Len(); n != 4 {
		t.Fatalf("%d visitors with state, want 4", n)
	}
}

func TestJourneyScriptGranted(t *testing.T) {
	e := newJourneyEnv(t, "anonymous", nil)
	e.consent = consent.Granted
	script(e)
	wantRows(t, e.journeyRows(), scriptRows)
}

// TestNoJourneyWithoutTheDailyKey: in anonymous mode without a grant, and
// in optout mode after a withdrawal, no visitor gets any state and no
// attribution or funnel row exists; the hits are counted all the same.
func TestNoJourneyWithoutTheDailyKey(t *testing.T) {
	for _, c := range []struct {
		mode  string
		state consent.State
	}{{"anonymous", consent.Unknown}, {"anonymous", consent.Denied}, {"optout", consent.Denied}} {
		e := newJourneyEnv(t, c.mode, nil)
		e.consent = c.state
		script(e)
		if rows := e.journeyRows(); len(rows) != 0 {
			t.Errorf("%s, %v: %d attribution or funnel rows: %v", c.mode, c.state, len(rows), rows)
		}
		if n := e.journeys.Len(); n != 0 {
			t.Errorf("%s, %v: %d visitors with state, want 0", c.mode, c.state, n)
		}
		total := e.pipe.Sink.WebRows()[counter.WebKey{Site: "shop.example", Hour: counter.HourOf(testNow), Dimension: counter.DimTotal}]
		if total.Pageviews != 9 {
			t.Errorf("%s, %v: %d page views counted, want the script's 9", c.mode, c.state, total.Pageviews)
		}
	}
}

// TestJourneyOverTheShare: a site's share of MaxJourneys is full after two
// visitors: the third's conversion counts as (unknown) and moves no
// funnel; the hit is still counted.
func TestJourneyOverTheShare(t *testing.T) {
	e := newJourneyEnv(t, "optout", func(o *ingest.Options) { o.MaxJourneys = 2 })
	a, b, c := e.visitor("10.0.0.1"), e.visitor("10.0.0.2"), e.visitor("10.0.0.3")
	a.view("/blog", "https://www.google.com/")
	b.view("/blog", "https://www.google.com/")
	c.view("/pricing", "https://www.google.com/")
	c.event("Signup")
	wantRows(t, e.journeyRows(), map[string]hv{
		"goal_source Signup|(unknown)":   {1, 1},
		"goal_campaign Signup|(unknown)": {1, 1},
		"goal_entry Signup|(unknown)":    {1, 1},
	})
	// c's entry was refused state; its event needed none (it neither
	// starts a visit nor reaches a first step), so it is no refusal.
	if e.journeys.Len() != 2 || e.journeys.Shed() != 1 {
		t.Fatalf("%d visitors, %d shed; want 2 and 1", e.journeys.Len(), e.journeys.Shed())
	}
}

// TestJourneyNeedsGoals: a site without goals or funnels makes no state.
func TestJourneyNeedsGoals(t *testing.T) {
	e := newJourneyEnv(t, "optout", func(o *ingest.Options) { o.Goals = goals.NewRegistry(nil, nil) })
	script(e)
	if rows := e.journeyRows(); len(rows) != 0 || e.journeys.Len() != 0 {
		t.Fatalf("%d rows, %d visitors: want none", len(rows), e.journeys.Len())
	}
}

// BenchmarkPipelineJourney is BenchmarkPipelineEvent's mix on a site with
// goals and a funnel (the hits of the other two sites have none): the
// cost of attribution and funnels in the day's steady state. A hit that
// converts allocates its rows' values (three a goal); the others nothing.
func BenchmarkPipelineJourney(b *testing.B) {
	conf, err := goals.Parse(nil,
		[]goals.FileGoal{{Event: "signup"}, {Name: "Cart", Path: "/cart"}},
		[]goals.FileFunnel{{Name: "Buy", Steps: []goals.FileGoal{{Path: "/pricing"}, {Path: "/products/**"}, {Path: "/cart"}}}})
	if err != nil {
		b.Fatal(err)
	}
	journeys := journey.New(nil)
	env := newEnv(b, time.Now, func(o *ingest.Options) {
		o.Goals = goals.NewRegistry(map[string]goals.Config{"shop.example": conf}, nil)
		o.Journeys = journeys
	})
	hits := env.webHits(1<<16, 20_000, false)
	for _, h := range hits {
		if _, err := env.p.Event(h.ev, h.c); err != nil {
			b.Fatalf("%s: %v", h.ev.URL, err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := &hits[i&(len(hits)-1)]
		env.p.Event(h.ev, h.c)
	}
	b.StopTimer()
	b.ReportMetric(float64(journeys.Len()), "journeys")
}
