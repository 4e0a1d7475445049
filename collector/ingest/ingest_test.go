package ingest_test

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"tally/collector/consent"
	"tally/collector/ingest"
	"tally/counter"
	"tally/internal/testpipe"
	"tally/sites"
)

// testNow is the tests' fixed clock: noon UTC.
var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// newTestEnv is the bench environment on the fixed clock, with the
// pipeline's options (the memory bounds) adjusted by set.
func newTestEnv(t *testing.T, set func(*ingest.Options)) *benchEnv {
	t.Helper()
	return newEnv(t, func() time.Time { return testNow }, set)
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"

func pageview(env *benchEnv, path string, analytics consent.State) (ingest.Event, ingest.Client) {
	return ingest.Event{Site: env.sites[0], Name: ingest.PageviewName, URL: "https://shop.example" + path,
			Consent: consent.Signals{Analytics: analytics}},
		ingest.Client{IP: netip.MustParseAddr("10.1.2.3"), UserAgent: firefox, AcceptLanguage: true}
}

func overload(t *testing.T, err error, reason string) *ingest.OverloadError {
	t.Helper()
	var oe *ingest.OverloadError
	if !errors.Is(err, ingest.ErrOverloaded) || !errors.As(err, &oe) || oe.Reason != reason {
		t.Fatalf("error %v, want an overload for %s", err, reason)
	}
	if oe.RetryAfter <= 0 {
		t.Fatalf("overload without a retry delay: %+v", oe)
	}
	return oe
}

func TestShedsPastThePendingRowBound(t *testing.T) {
	env := newTestEnv(t, func(o *ingest.Options) { o.MaxPendingRows = 20 })
	// Page views on new paths add rows until the bound sheds one.
	var err error
	before := 0
	for i := 0; err == nil; i++ {
		if i > 20 {
			t.Fatal("never shed")
		}
		before = env.agg.Pending()
		_, err = env.p.Event(pageview(env, "/"+string(rune('a'+i)), consent.Unknown))
	}
	overload(t, err, ingest.ShedCounterRows)
	if before < 20 || env.agg.Pending() != before {
		t.Fatalf("shed at %d rows (bound 20), %d after", before, env.agg.Pending())
	}
	_, err = env.p.EmailOpen(ingest.Open{Site: env.sites[0], Campaign: "spring", Recipient: "r1"},
		ingest.Client{IP: netip.MustParseAddr("10.1.2.3"), UserAgent: firefox, AcceptLanguage: true})
	overload(t, err, ingest.ShedCounterRows)
	overload(t, env.p.EmailSent(env.sites[0], "spring", 10), ingest.ShedCounterRows)
	if got := env.agg.Pending(); got != before {
		t.Fatalf("shed hits changed the counters: %d rows, was %d", got, before)
	}
	// A flush frees the memory and hits are counted again.
	if err := env.agg.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := env.p.Event(pageview(env, "/c", consent.Unknown)); err != nil {
		t.Fatalf("after a flush: %v", err)
	}
}

func TestShedsUniquesPastThePairBound(t *testing.T) {
	env := newTestEnv(t, func(o *ingest.Options) { o.MaxVisitorPairs = 12 })
	if _, err := env.p.Event(pageview(env, "/a", consent.Granted)); err != nil {
		t.Fatal(err)
	}
	pairs, rows := env.visitors.Len(), env.agg.Pending()
	if pairs < 12 {
		t.Fatalf("a consented page view remembered %d pairs; the test needs 12", pairs)
	}
	_, err := env.p.Event(pageview(env, "/b", consent.Granted))
	oe := overload(t, err, ingest.ShedVisitorPairs)
	// The bench clock stands at 12:00 UTC: memory is freed at midnight.
	if oe.RetryAfter != 12*time.Hour {
		t.Errorf("retry after %v, want 12h (midnight UTC)", oe.RetryAfter)
	}
	if env.visitors.Len() != pairs || env.agg.Pending() != rows {
		t.Fatal("a shed hit was half counted")
	}
	// A hit without consent computes no uniques: it is still counted.
	if _, err := env.p.Event(pageview(env, "/b", consent.Unknown)); err != nil {
		t.Fatalf("a hit without uniques was shed: %v", err)
	}
}

func TestShedsOpensPastTheKeyBound(t *testing.T) {
	env := newTestEnv(t, func(o *ingest.Options) { o.MaxOpenKeys = 1 })
	c := ingest.Client{IP: netip.MustParseAddr("10.1.2.3"), UserAgent: firefox, AcceptLanguage: true}
	if _, err := env.p.EmailOpen(ingest.Open{Site: env.sites[0], Campaign: "spring", Recipient: "r1"}, c); err != nil {
		t.Fatal(err)
	}
	rows := env.agg.Pending()
	_, err := env.p.EmailOpen(ingest.Open{Site: env.sites[0], Campaign: "spring", Recipient: "r2"}, c)
	overload(t, err, ingest.ShedOpenKeys)
	if env.agg.Pending() != rows || env.opens.Len() != 1 {
		t.Fatal("a shed open was half counted")
	}
	// An open without a recipient token remembers nothing: counted.
	if _, err := env.p.EmailOpen(ingest.Open{Site: env.sites[0], Campaign: "spring"}, c); err != nil {
		t.Fatalf("an open without a token was shed: %v", err)
	}
}

func TestBoundsDefaultsAndNoBound(t *testing.T) {
	env := newTestEnv(t, func(o *ingest.Options) { o.MaxPendingRows = -1; o.PendingRows = func() int { return 1 << 40 } })
	if _, err := env.p.Event(pageview(env, "/", consent.Unknown)); err != nil {
		t.Fatalf("a negative bound must mean no bound: %v", err)
	}
	env = newTestEnv(t, func(o *ingest.Options) {})
	if o := ingest.OptionsOf(env.p); o.MaxPendingRows != ingest.DefaultMaxPendingRows || o.MaxVisitorPairs != ingest.DefaultMaxVisitorPairs ||
		o.MaxOpenKeys != ingest.DefaultMaxOpenKeys || o.RetryAfter != 10*time.Second {
		t.Fatalf("defaults not filled: %+v", o)
	}
	if _, err := ingest.New(ingest.Options{}); err == nil {
		t.Fatal("a pipeline without steps was built")
	}
}

// TestPageviewCountsEachDimensionOnce follows one visitor through the real
// pipeline: every dimension row gets the hit, the first hit of the day
// with a value counts a visitor, and a hit without consent counts none.
func TestPageviewCountsEachDimensionOnce(t *testing.T) {
	env := newTestEnv(t, nil)
	hit := func(path, ref string, analytics consent.State) {
		t.Helper()
		ev, c := pageview(env, path, analytics)
		ev.URL += "?utm_source=news"
		ev.Referrer = ref
		c.IP = netip.MustParseAddr("10.1.2.3") // DE-BY in the fixture
		if o, err := env.p.Event(ev, c); err != nil || o != ingest.Counted {
			t.Fatalf("%s: %v %v", path, o, err)
		}
	}
	hit("/a", "https://www.google.com/", consent.Granted)
	hit("/b", "", consent.Granted)
	hit("/b", "", consent.Unknown)
	ev, c := pageview(env, "/", consent.Granted)
	ev.Name = "signup"
	if _, err := env.p.Event(ev, c); err != nil {
		t.Fatal(err)
	}
	if err := env.agg.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hour := counter.HourOf(testNow)
	f := func(dim, value string, want counter.WebCounts) {
		t.Helper()
		k := counter.WebKey{Site: "shop.example", Hour: hour, Dimension: dim, Value: value}
		if got := env.sink.Web(k); got != want {
			t.Errorf("%s=%q: %+v, want %+v", dim, value, got, want)
		}
	}
	// Each page view came from outside (an empty or external referrer):
	// three visits, each assumed to end on its page.
	all := counter.WebCounts{Hits: 3, Pageviews: 3, Visitors: 1, Visits: 3}
	f(counter.DimTotal, "", all)
	f(counter.DimPath, "/a", counter.WebCounts{Hits: 1, Pageviews: 1, Visitors: 1, Visits: 1, Exits: 1})
	f(counter.DimPath, "/b", counter.WebCounts{Hits: 2, Pageviews: 2, Visitors: 1, Visits: 2, Exits: 2})
	f(counter.DimSource, "news", all)
	f(counter.DimUTMSource, "news", all)
	f(counter.DimChannel, "referral", all)
	f(counter.DimCountry, "DE", all)
	f(counter.DimRegion, "DE-BY", all)
	f(counter.DimBrowser, "Firefox", all)
	f(counter.DimOS, "Linux", all)
	f(counter.DimDevice, "desktop", all)
	f(counter.DimLanguage, "", all) // the client sent no language this table knows
	f(counter.DimConsent, "granted", counter.WebCounts{Hits: 3})
	f(counter.DimConsent, "unknown", counter.WebCounts{Hits: 1})
	f(counter.DimEvent, "signup", counter.WebCounts{Hits: 1, Visitors: 1})
	if rows := env.sink.WebRows(); len(rows) != 17 {
		t.Errorf("%d rows, want 17: %v", len(rows), rows)
	}
}

// TestCountedValuesNameNoOne: identifiers in a page's path, in an event
// name and in a site's own path rules never reach a counter row.
func TestCountedValuesNameNoOne(t *testing.T) {
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"shop.example","path_rules":["/u/*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	site, _ := reg.Lookup("shop.example")
	pipe := testpipe.New(t, testpipe.Options{Now: func() time.Time { return testNow }})
	client := ingest.Client{IP: netip.MustParseAddr("10.1.2.3"), UserAgent: firefox, AcceptLanguage: true}
	for _, ev := range []ingest.Event{
		{Site: site, Name: ingest.PageviewName, URL: "https://shop.example/reset/0f3c9a7e2b1d4c8e9a7b6c5d4e3f2a1b"},
		{Site: site, Name: ingest.PageviewName, URL: "https://shop.example/user/alice.smith@example.org/orders"},
		{Site: site, Name: ingest.PageviewName, URL: "https://shop.example/u/alice/settings"},
		{Site: site, Name: "Signup alice.smith@example.org", URL: "https://shop.example/"},
	} {
		if _, err := pipe.Pipeline.Event(ev, client); err != nil {
			t.Fatal(err)
		}
	}
	if err := pipe.Aggregator.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	for k := range pipe.Sink.WebRows() {
		values[k.Dimension+" "+k.Value] = true
		if strings.Contains(k.Value, "alice") || strings.Contains(k.Value, "0f3c9a7e") {
			t.Errorf("%s row keeps an identifier: %q", k.Dimension, k.Value)
		}
	}
	for _, want := range []string{"path /reset/:id", "path /user/:email/orders", "path /u/*/settings", "event :email"} {
		if !values[want] {
			t.Errorf("no row %q; rows: %v", want, values)
		}
	}
}

// TestStrictEmailOpenWithoutConsentCountsOnlyTheOpen: on a strict site an
// open whose URL lacks the signed consent bit adds to the campaign's total
// and nothing else: no region, no mail client, no recipient memory. With
// the bit, and on an anonymous site, the open is counted in full.
func TestStrictEmailOpenWithoutConsentCountsOnlyTheOpen(t *testing.T) {
	env := newTestEnv(t, nil)
	shop, news := env.sites[0], env.sites[1] // anonymous, strict
	if news.Mode != sites.ModeStrict || shop.Mode != sites.ModeAnonymous {
		t.Fatal("the bench sites changed: the test needs one strict and one anonymous site")
	}
	const (
		thunderbird = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.10.1"
		appleProxy  = "Mozilla/5.0" // Apple Mail Privacy Protection: a machine open
	)
	de := netip.MustParseAddr("10.1.2.3") // DE-BY in the fixture
	open := func(site *sites.Site, campaign, recipient string, consented bool, ua string) ingest.Outcome {
		t.Helper()
		o, err := env.p.EmailOpen(ingest.Open{Site: site, Campaign: campaign, Recipient: recipient, RecipientConsent: consented},
			ingest.Client{IP: de, UserAgent: ua})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if o := open(news, "nocon", "r1", false, thunderbird); o != ingest.ConsentOnly {
		t.Errorf("strict open without consent: outcome %q, want %q", o, ingest.ConsentOnly)
	}
	open(news, "nocon", "r1", false, thunderbird) // the same recipient again: not recognised
	open(news, "nocon", "r2", false, appleProxy)
	if n := env.opens.Len(); n != 0 {
		t.Fatalf("a strict open without consent remembered %d recipients", n)
	}
	open(news, "con", "r1", true, thunderbird)
	open(news, "con", "r1", true, thunderbird)
	open(shop, "anon", "r1", false, thunderbird)
	if err := env.agg.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	hour := counter.HourOf(testNow)
	rows := map[string]counter.EmailCounts{}
	for k, c := range env.sink.EmailRows() {
		if k.Hour != hour {
			t.Errorf("row in hour %d, want %d", k.Hour, hour)
		}
		rows[k.Site+"|"+k.Campaign+"|"+k.Dimension+"|"+k.Value] = c
	}
	want := map[string]counter.EmailCounts{
		// Strict, no consent bit: the total only, humans and machines apart.
		"news.example|nocon|total|": {Opens: 2, MachineOpens: 1},
		// Strict with the bit: every dimension, one unique open.
		"news.example|con|total|":             {Opens: 2, UniqueOpens: 1},
		"news.example|con|client|Thunderbird": {Opens: 2, UniqueOpens: 1},
		"news.example|con|country|DE":         {Opens: 2, UniqueOpens: 1},
		"news.example|con|region|DE-BY":       {Opens: 2, UniqueOpens: 1},
		// Anonymous: counted in full without the bit.
		"shop.example|anon|total|":             {Opens: 1, UniqueOpens: 1},
		"shop.example|anon|client|Thunderbird": {Opens: 1, UniqueOpens: 1},
		"shop.example|anon|country|DE":         {Opens: 1, UniqueOpens: 1},
		"shop.example|anon|region|DE-BY":       {Opens: 1, UniqueOpens: 1},
	}
	for k, w := range want {
		if got := rows[k]; got != w {
			t.Errorf("%s: %+v, want %+v", k, got, w)
		}
	}
	for k := range rows {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected row %s: %+v", k, rows[k])
		}
	}
}

// TestEachSiteHasItsShareOfTheMemory: with three sites, each may fill a
// third of the visitor pairs and of the open keys; a site over its share
// sheds its own hits that need that memory, and the other sites keep
// counting, visitors and unique opens included.
func TestEachSiteHasItsShareOfTheMemory(t *testing.T) {
	env := newTestEnv(t, func(o *ingest.Options) { o.MaxVisitorPairs, o.MaxOpenKeys, o.Sites = 117, 3, 3 })
	shop, blog := env.sites[0], env.sites[2]
	view := func(site *sites.Site, path string, ip string) (ingest.Outcome, error) {
		return env.p.Event(ingest.Event{Site: site, Name: ingest.PageviewName, URL: "https://" + site.Domain + path,
			Consent: consent.Signals{Analytics: consent.Granted}}, ingest.Client{IP: netip.MustParseAddr(ip), UserAgent: firefox, AcceptLanguage: true})
	}
	// A new visitor's consented page view remembers 13 pairs: three fill
	// shop's share of 39.
	for i := range 3 {
		if _, err := view(shop, "/a", "10.1.0."+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.visitors.SiteLen("shop.example"); n != 39 {
		t.Fatalf("shop remembers %d pairs, want 39", n)
	}
	_, err := view(shop, "/b", "10.1.0.9")
	overload(t, err, ingest.ShedVisitorPairs)
	// Another site is not affected, nor shop's hits without uniques.
	for i := range 3 {
		if o, err := view(blog, "/", "10.2.0."+strconv.Itoa(i)); err != nil || o != ingest.Counted {
			t.Fatalf("blog's page view %d with shop's share full: %v %v", i, o, err)
		}
	}
	if _, err := env.p.Event(pageview(env, "/c", consent.Unknown)); err != nil {
		t.Fatalf("shop's hit without uniques was shed: %v", err)
	}
	if n := env.visitors.Len(); n != 78 {
		t.Fatalf("%d pairs in all, want 78", n)
	}

	// Open keys: a share of one each.
	c := ingest.Client{IP: netip.MustParseAddr("10.1.2.3"), UserAgent: firefox}
	openOf := func(site *sites.Site, r string) error {
		_, err := env.p.EmailOpen(ingest.Open{Site: site, Campaign: "spring", Recipient: r}, c)
		return err
	}
	if err := openOf(shop, "r1"); err != nil {
		t.Fatal(err)
	}
	overload(t, openOf(shop, "r2"), ingest.ShedOpenKeys)
	if err := openOf(shop, "r1"); err != nil {
		t.Fatalf("a repeated open, which needs no memory, was shed: %v", err)
	}
	if err := openOf(blog, "r1"); err != nil {
		t.Fatalf("blog's open with shop's share full: %v", err)
	}
	if err := env.agg.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hour := counter.HourOf(testNow)
	if got := env.sink.Web(counter.WebKey{Site: "blog.example", Hour: hour, Dimension: counter.DimTotal}); got.Visitors != 3 {
		t.Errorf("blog counted %d visitors, want 3", got.Visitors)
	}
	for site, want := range map[string]counter.EmailCounts{"shop.example": {Opens: 2, UniqueOpens: 1}, "blog.example": {Opens: 1, UniqueOpens: 1}} {
		if got := env.sink.Email(counter.EmailKey{Site: site, Campaign: "spring", Hour: hour, Dimension: counter.DimTotal}); got != want {
			t.Errorf("%s opens %+v, want %+v", site, got, want)
		}
	}
}
