package ingest_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"tally/collector/consent"
	"tally/collector/ingest"
	"tally/counter"
	"tally/goals"
	"tally/internal/testpipe"
	"tally/sites"
)

// convSites: shop.example keeps the props plan and lang, has an event
// goal, a page goal and a goal on the automatic download event;
// plain.example declares nothing.
const convSites = `{"sites":[
 {"domain":"shop.example","path_rules":["/u/*"],
  "props":["plan","lang"],
  "goals":[{"event":"Signup"},{"name":"Thanks","path":"/thank-you*"},{"event":"File Download"},{"event":"Purchase"}]},
 {"domain":"plain.example"},
 {"domain":"strict.example","consent_mode":"strict","props":["plan"],"goals":[{"event":"Signup"}]},
 {"domain":"five.example","props":["plan","lang","author","theme","ab"],"goals":[{"event":"Signup"}]}]}`

type convEnv struct {
	t    *testing.T
	pipe *testpipe.Pipe
	reg  *sites.Registry
}

func newConvEnv(t *testing.T) *convEnv {
	t.Helper()
	reg, err := sites.Parse(strings.NewReader(convSites))
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]goals.Config{}
	for _, d := range []string{"shop.example", "plain.example", "strict.example", "five.example"} {
		s, _ := reg.Lookup(d)
		declared[d] = s.Conversions
	}
	gr := goals.NewRegistry(declared, nil)
	return &convEnv{t: t, reg: reg, pipe: testpipe.New(t, testpipe.Options{Regions: benchGeo, Now: func() time.Time { return testNow },
		Pipeline: func(o *ingest.Options) { o.Goals = gr }})}
}

var convClient = ingest.Client{IP: netip.MustParseAddr("10.1.2.3"), UserAgent: firefox, AcceptLanguage: true}

// send counts an event on site; props is its JSON object ("" for none).
func (e *convEnv) send(site, name, url, props string, rev ingest.Revenue, analytics consent.State) {
	e.t.Helper()
	s, _ := e.reg.Lookup(site)
	ev := ingest.Event{Site: s, Name: name, URL: url, Revenue: rev, Consent: consent.Signals{Analytics: analytics}}
	if props != "" {
		p, err := ingest.ParseProps([]byte(props))
		if err != nil {
			e.t.Fatalf("props %s: %v", props, err)
		}
		ev.Props = p
	}
	if o, err := e.pipe.Pipeline.Event(ev, convClient); err != nil || o != ingest.Counted {
		e.t.Fatalf("%s %s: %v %v", name, url, o, err)
	}
}

// conv is the hour's conversion rows of site (dimension\x00value -> counts).
func (e *convEnv) conv(site string) map[string]counter.WebCounts {
	e.t.Helper()
	if err := e.pipe.Aggregator.Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]counter.WebCounts{}
	for k, c := range e.pipe.Sink.TakeWebRows() {
		if k.Site != site {
			continue
		}
		switch k.Dimension {
		case counter.DimProp, counter.DimGoal, counter.DimGoalProp, counter.DimRevenue, counter.DimUniques:
			out[k.Dimension+" "+k.Value] = c
		}
	}
	return out
}

func checkRows(t *testing.T, got, want map[string]counter.WebCounts) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("row %q = %+v (present %v), want %+v", k, g, ok, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected row %q = %+v", k, g)
		}
	}
}

// TestConversionRows: the rows of the data model, exactly, and nothing of
// the props but the allow-listed names.
func TestConversionRows(t *testing.T) {
	e := newConvEnv(t)
	e.send("shop.example", "Signup", "https://shop.example/pricing",
		`{"plan":"pro","email":"alice@example.com","lang":"de","secret":"hunter2"}`, ingest.Revenue{}, consent.Granted)
	e.send("shop.example", "Signup", "https://shop.example/pricing", `{"plan":"pro"}`, ingest.Revenue{}, consent.Granted)
	e.send("shop.example", ingest.PageviewName, "https://shop.example/thank-you-now", `{"plan":"free"}`, ingest.Revenue{}, consent.Unknown)
	e.send("shop.example", "Purchase", "https://shop.example/cart", "", ingest.Revenue{Currency: "EUR", Micros: 12_500_000}, consent.Granted)
	e.send("shop.example", "Other", "https://shop.example/cart", `{"plan":"x"}`, ingest.Revenue{Currency: "EUR", Micros: 1}, consent.Unknown)

	const tab = "\t"
	checkRows(t, e.conv("shop.example"), map[string]counter.WebCounts{
		"uniques on":  {Hits: 3},
		"uniques off": {Hits: 2, Pageviews: 1},
		// Two Signups by one visitor: one visitor.
		"prop Signup" + tab + "plan" + tab + "pro": {Hits: 2, Visitors: 1},
		"prop Signup" + tab + "lang" + tab + "de":  {Hits: 1, Visitors: 1},
		"goal Signup": {Hits: 2, Visitors: 1},
		"goal_prop Signup" + tab + "plan" + tab + "pro": {Hits: 2, Visitors: 1},
		"goal_prop Signup" + tab + "lang" + tab + "de":  {Hits: 1, Visitors: 1},
		// A page view without consent for uniques: no visitors.
		"prop pageview" + tab + "plan" + tab + "free": {Hits: 1, Pageviews: 1},
		"goal Thanks": {Hits: 1},
		"goal_prop Thanks" + tab + "plan" + tab + "free": {Hits: 1, Pageviews: 1},
		"goal Purchase": {Hits: 1, Visitors: 1},
		// Revenue rows count buyers, so that k counts people, not purchases.
		"revenue Purchase" + tab + "EUR":        {Hits: 1, Visitors: 1, Revenue: 12_500_000},
		"prop Other" + tab + "plan" + tab + "x": {Hits: 1},
		// Revenue on an event that converts no goal is dropped.
	})
	checkNowhere(t, e.pipe, "alice", "hunter2", "secret", "email")
}

// checkNowhere fails when any row anywhere holds one of the marks.
func checkNowhere(t *testing.T, pipe *testpipe.Pipe, marks ...string) {
	t.Helper()
	if err := pipe.Aggregator.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for k := range pipe.Sink.WebRows() {
		for _, m := range marks {
			if strings.Contains(k.Value, m) || strings.Contains(k.Dimension, m) {
				t.Errorf("%q stored in row %+v", m, k)
			}
		}
	}
}

// TestBuiltinProps: the automatic events' props are kept without the
// allow-list, reduced to a host or a path, whatever the site allow-lists.
func TestBuiltinProps(t *testing.T) {
	e := newConvEnv(t)
	e.send("shop.example", ingest.OutboundLinkName, "https://shop.example/a",
		`{"url":"https://Partner.example.org/offer?token=abc123&u=alice@example.com"}`, ingest.Revenue{}, consent.Unknown)
	e.send("shop.example", ingest.FileDownloadName, "https://shop.example/a",
		`{"url":"https://cdn.shop.example/u/alice/Report.PDF?sig=xyz"}`, ingest.Revenue{}, consent.Unknown)
	e.send("shop.example", ingest.FileDownloadName, "https://shop.example/a", `{"url":"/docs/Guide.tar.GZ#x"}`, ingest.Revenue{}, consent.Unknown)
	e.send("shop.example", ingest.NotFoundName, "https://shop.example/a", `{"path":"/u/bob/missing?q=1"}`, ingest.Revenue{}, consent.Unknown)
	e.send("shop.example", ingest.FormSubmissionName, "https://shop.example/a", `{"path":"/contact","plan":"pro","x":"y"}`, ingest.Revenue{}, consent.Unknown)
	const tab = "\t"
	checkRows(t, e.conv("shop.example"), map[string]counter.WebCounts{
		"uniques off": {Hits: 5},
		"prop " + ingest.OutboundLinkName + tab + "url" + tab + "partner.example.org":     {Hits: 1},
		"prop " + ingest.FileDownloadName + tab + "url" + tab + "/u/*/Report.PDF":         {Hits: 1},
		"prop " + ingest.FileDownloadName + tab + "ext" + tab + "pdf":                     {Hits: 1},
		"goal " + ingest.FileDownloadName:                                                 {Hits: 2},
		"prop " + ingest.FileDownloadName + tab + "url" + tab + "/docs/Guide.tar.GZ":      {Hits: 1},
		"prop " + ingest.FileDownloadName + tab + "ext" + tab + "gz":                      {Hits: 1},
		"goal_prop " + ingest.FileDownloadName + tab + "url" + tab + "/docs/Guide.tar.GZ": {Hits: 1},
		"goal_prop " + ingest.FileDownloadName + tab + "ext" + tab + "gz":                 {Hits: 1},
		"goal_prop " + ingest.FileDownloadName + tab + "url" + tab + "/u/*/Report.PDF":    {Hits: 1},
		"goal_prop " + ingest.FileDownloadName + tab + "ext" + tab + "pdf":                {Hits: 1},
		"prop " + ingest.NotFoundName + tab + "path" + tab + "/u/*/missing":               {Hits: 1},
		"prop " + ingest.FormSubmissionName + tab + "path" + tab + "/contact":             {Hits: 1},
		"prop " + ingest.FormSubmissionName + tab + "plan" + tab + "pro":                  {Hits: 1},
	})
	checkNowhere(t, e.pipe, "token", "abc123", "alice", "bob", "sig", "xyz")
}

// TestNoSetNoRows: a site without props or goals gets no conversion row
// (nor the uniques row), whatever it is sent.
func TestNoSetNoRows(t *testing.T) {
	e := newConvEnv(t)
	e.send("plain.example", "Signup", "https://plain.example/", `{"plan":"pro"}`, ingest.Revenue{Currency: "EUR", Micros: 1}, consent.Granted)
	e.send("plain.example", ingest.PageviewName, "https://plain.example/", "", ingest.Revenue{}, consent.Granted)
	checkRows(t, e.conv("plain.example"), map[string]counter.WebCounts{})
}

// TestStrictWithoutConsentNoConversion: where consent allows no counters,
// nothing of the event is counted but the consent row.
func TestStrictWithoutConsentNoConversion(t *testing.T) {
	e := newConvEnv(t)
	s, _ := e.reg.Lookup("strict.example")
	p, _ := ingest.ParseProps([]byte(`{"plan":"pro"}`))
	o, err := e.pipe.Pipeline.Event(ingest.Event{Site: s, Name: "Signup", URL: "https://strict.example/", Props: p}, convClient)
	if err != nil || o != ingest.ConsentOnly {
		t.Fatalf("%v %v", o, err)
	}
	checkRows(t, e.conv("strict.example"), map[string]counter.WebCounts{})
}

// TestHashRouting: with Hash the fragment is the page's path; without, it
// is dropped.
func TestHashRouting(t *testing.T) {
	e := newConvEnv(t)
	s, _ := e.reg.Lookup("plain.example")
	for _, ev := range []ingest.Event{
		{Site: s, Name: ingest.PageviewName, URL: "https://plain.example/app#/a/b?c=1", Hash: true},
		{Site: s, Name: ingest.PageviewName, URL: "https://plain.example/#/about", Hash: true},
		{Site: s, Name: ingest.PageviewName, URL: "https://plain.example/#/about"},
	} {
		if _, err := e.pipe.Pipeline.Event(ev, convClient); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.pipe.Aggregator.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for k, c := range e.pipe.Sink.TakeWebRows() {
		if k.Dimension == counter.DimPath {
			got[k.Value] += c.Pageviews
		}
	}
	want := map[string]int64{"/app#/a/b": 1, "/#/about": 1, "/": 1}
	if len(got) != len(want) {
		t.Fatalf("path rows %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("path rows %v, want %v", got, want)
		}
	}
}

func TestParseProps(t *testing.T) {
	ok := func(in string, n int) {
		t.Helper()
		p, err := ingest.ParseProps([]byte(in))
		if err != nil || p.Len() != n {
			t.Fatalf("ParseProps(%s) = %d, %v; want %d props", in, p.Len(), err, n)
		}
	}
	bad := func(in, msg string) {
		t.Helper()
		if !json.Valid([]byte(in)) {
			t.Fatalf("test input %s is not JSON", in)
		}
		_, err := ingest.ParseProps([]byte(in))
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Fatalf("ParseProps(%.40s) = %v, want an error saying %q", in, err, msg)
		}
	}
	ok(`null`, 0)
	ok(`{}`, 0)
	ok(` { "a" : "b" , "n" : -1.5e3, "t": true, "f": false, "z": null, "e": "x\"y\\" } `, 6)
	bad(`[1,2]`, "must be a JSON object")
	bad(`"plan"`, "must be a JSON object")
	bad(`{"a":[1]}`, "array or object")
	bad(`{"a":{"b":1}}`, "array or object")
	many := make([]string, 0, 10000)
	for i := range 10000 {
		many = append(many, `"k`+strings.Repeat("x", i%5)+string(rune('a'+i%26))+`":1`)
	}
	bad(`{`+strings.Join(many, ",")+`}`, "more than 30")
	bad(`{"a":"`+strings.Repeat("v", 2001)+`"}`, "over 2000 bytes")
	bad(`{"`+strings.Repeat("k", 2001)+`":"v"}`, "over 2000 bytes")
	ok(`{"a":"`+strings.Repeat("v", 2000)+`"}`, 1)
}

func TestParseRevenue(t *testing.T) {
	ok := func(in string, want ingest.Revenue) {
		t.Helper()
		got, err := ingest.ParseRevenue([]byte(in))
		if err != nil || got != want {
			t.Fatalf("ParseRevenue(%s) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := func(in, field string) {
		t.Helper()
		if _, err := ingest.ParseRevenue([]byte(in)); err == nil || !strings.Contains(err.Error(), field) {
			t.Fatalf("ParseRevenue(%s) = %v, want an error naming %s", in, err, field)
		}
	}
	ok(`{"amount": 12.5, "currency": "EUR"}`, ingest.Revenue{Currency: "EUR", Micros: 12_500_000})
	ok(`{"amount": "12.50", "currency": "usd"}`, ingest.Revenue{Currency: "USD", Micros: 12_500_000})
	ok(`{"amount": 0.000001, "currency": "JPY"}`, ingest.Revenue{Currency: "JPY", Micros: 1})
	ok(`{"amount": 1000000000, "currency": "EUR"}`, ingest.Revenue{Currency: "EUR", Micros: 1_000_000_000_000_000})
	ok(`null`, ingest.Revenue{})
	bad(`{"amount": 1, "currency": "EURO"}`, "revenue.currency")
	bad(`{"amount": 1, "currency": "XYZ"}`, "revenue.currency")
	bad(`{"amount": 1, "currency": 978}`, "revenue.currency")
	bad(`{"amount": 1}`, "revenue.currency")
	for _, a := range []string{`-1`, `0`, `"0.0"`, `1000000000.000001`, `1e3`, `"NaN"`, `"Infinity"`, `1.0000001`, `"12,50"`, `" 1"`, `null`, `true`, `"1."`, `99999999999999999999999`} {
		bad(`{"amount": `+a+`, "currency": "EUR"}`, "revenue.amount")
	}
	bad(`[1]`, "revenue must be an object")
}

// TestFivePropsCostOneAllocation: an event with five kept props costs at
// most one allocation more than the same event on a site without props
// (their row values are made in one string); a page view of a site
// without a conversion set costs what it did.
func TestFivePropsCostOneAllocation(t *testing.T) {
	e := newConvEnv(t)
	plain, _ := e.reg.Lookup("plain.example")
	five, _ := e.reg.Lookup("five.example")
	props, err := ingest.ParseProps([]byte(`{"plan":"pro","lang":"de","author":"Jane Doe","theme":"dark","ab":"b","other":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(ev ingest.Event) float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := e.pipe.Pipeline.Event(ev, convClient); err != nil {
				t.Fatal(err)
			}
		})
	}
	base := allocs(ingest.Event{Site: plain, Name: "Signup", URL: "https://plain.example/a"})
	withProps := allocs(ingest.Event{Site: five, Name: "Signup", URL: "https://five.example/a", Props: props})
	if withProps > base+1 {
		t.Fatalf("an event with five kept props allocates %.0f times, one without %.0f", withProps, base)
	}
	t.Logf("allocations: event %.0f, with five props %.0f", base, withProps)
	view := allocs(ingest.Event{Site: plain, Name: ingest.PageviewName, URL: "https://plain.example/a"})
	if view != 0 {
		t.Fatalf("a page view of a site without goals allocates %.0f times", view)
	}
}

// FuzzParseProps: on any valid JSON, ParseProps accepts exactly the
// objects of at most 30 scalar members within the limits, and the
// pipeline reads the members it accepted without failing.
func FuzzParseProps(f *testing.F) {
	for _, s := range []string{`{"plan":"pro"}`, `{"a":1,"b":true,"c":null,"d":"x\"y"}`, `{"a":[1]}`, `[]`, `null`, `"s"`,
		`{"plan":"\u0000\t"}`, `{ "plan" : -1.5e-3 }`} {
		f.Add(s)
	}
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"f.example","props":["plan","a","b","c","d"],"goals":[{"event":"E"}]}]}`))
	if err != nil {
		f.Fatal(err)
	}
	site, _ := reg.Lookup("f.example")
	gr := goals.NewRegistry(map[string]goals.Config{"f.example": site.Conversions}, nil)
	pipe := testpipe.New(f, testpipe.Options{Regions: benchGeo, Pipeline: func(o *ingest.Options) { o.Goals = gr; o.MaxPendingRows = -1 }})
	f.Fuzz(func(t *testing.T, in string) {
		if !json.Valid([]byte(in)) {
			return
		}
		p, err := ingest.ParseProps([]byte(in))
		var v any
		json.Unmarshal([]byte(in), &v)
		obj, isObj := v.(map[string]any)
		if v == nil && err == nil {
			return // null: none
		}
		if !isObj {
			if err == nil {
				t.Fatalf("accepted a non-object %q", in)
			}
			return
		}
		scalar := true
		for _, x := range obj {
			switch x.(type) {
			case []any, map[string]any:
				scalar = false
			}
		}
		if !scalar && err == nil {
			t.Fatalf("accepted a nested value in %q", in)
		}
		if err != nil {
			return
		}
		if p.Len() < len(obj) || p.Len() > ingest.MaxPropsSent {
			t.Fatalf("%q: %d props, the object has %d keys", in, p.Len(), len(obj))
		}
		if _, err := pipe.Pipeline.Event(ingest.Event{Site: site, Name: "E", URL: "https://f.example/", Props: p}, convClient); err != nil {
			t.Fatal(err)
		}
		if err := pipe.Aggregator.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Values never hold a TAB or control character: the split is
		// unambiguous.
		for k := range pipe.Sink.TakeWebRows() {
			if (k.Dimension == counter.DimProp || k.Dimension == counter.DimGoalProp) && strings.Count(k.Value, "\t") != 2 {
				t.Fatalf("%q: row value %q", in, k.Value)
			}
			if strings.ContainsFunc(k.Value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
				t.Fatalf("%q: control character in %q", in, k.Value)
			}
		}
	})
}
