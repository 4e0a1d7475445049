package ingest_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"tally/aggregator"
	"tally/collector/ingest"
	"tally/collector/mailclient"
	"tally/counter"
	"tally/internal/memsink"
	"tally/internal/testpipe"
	"tally/sites"
)

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

// clickEnv is a pipeline on synctest's clock, with the bench sites
// (shop.example anonymous, news.example strict).
type clickEnv struct {
	p    *ingest.Pipeline
	agg  *aggregator.Aggregator
	sink *memsink.Sink
	shop *sites.Site
	news *sites.Site
}

func newClickEnv(t *testing.T, tune func(*ingest.Options)) *clickEnv {
	t.Helper()
	reg, err := sites.Parse(strings.NewReader(benchSites))
	if err != nil {
		t.Fatal(err)
	}
	pipe := testpipe.New(t, testpipe.Options{Regions: benchGeo, EmailWindow: 24 * time.Hour,
		Aggregator: func(o *aggregator.Options) { o.FlushRows = 1 << 30 }, Pipeline: tune})
	e := &clickEnv{p: pipe.Pipeline, agg: pipe.Aggregator, sink: pipe.Sink}
	e.shop, _ = reg.Lookup("shop.example")
	e.news, _ = reg.Lookup("news.example")
	return e
}

var clientDE = netip.MustParseAddr("10.1.2.3") // DE, DE-BY

func (e *clickEnv) click(t *testing.T, k ingest.Click, c ingest.Client) ingest.Outcome {
	t.Helper()
	if k.Site == nil {
		k.Site = e.shop
	}
	if k.Campaign == "" {
		k.Campaign = "spring"
	}
	if k.Destination == "" {
		k.Destination = "https://shop.example/sale?utm_source=mail&token=zz9"
	}
	o, err := e.p.EmailClick(k, c)
	if err != nil {
		t.Fatalf("click %+v: %v", k, err)
	}
	return o
}

// rows flushes and returns the stored rows of campaign spring on site.
func (e *clickEnv) row(t *testing.T, site, dim, value string) counter.EmailCounts {
	t.Helper()
	if err := e.agg.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sum counter.EmailCounts
	// Rows are per hour; synctest's clock starts at midnight 2000-01-01
	// UTC, and the tests stay within a few hours of it.
	for h := int64(0); h < 6; h++ {
		sum.Add(e.sink.Email(counter.EmailKey{Site: site, Campaign: "spring", Hour: counter.HourOf(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) + h*3600,
			Dimension: dim, Value: value}))
	}
	return sum
}

const saleLink = "cta shop.example/sale"

// TestClickCountsAPersonAfterTheWindow: a human click is held for the
// burst window, then counted with its region, browser and link, its
// first-click uniques, and the open it implies when no pixel open was
// seen; a recipient who opened first implies nothing.
func TestClickCountsAPersonAfterTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newClickEnv(t, nil)
		c := ingest.Client{IP: clientDE, UserAgent: chromeUA}
		if o := e.click(t, ingest.Click{Label: "cta", Recipient: "r1", Links: 3}, c); o != ingest.Held {
			t.Fatalf("outcome %s, want held", o)
		}
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got != (counter.EmailCounts{}) {
			t.Fatalf("counted before the window ended: %+v", got)
		}
		time.Sleep(ingest.DefaultClickBurstWindow + time.Second)
		synctest.Wait()
		person := counter.EmailCounts{Clicks: 1, UniqueClicks: 1, Opens: 1, UniqueOpens: 1, ImpliedOpens: 1}
		for _, r := range [][2]string{{counter.DimTotal, ""}, {counter.DimClient, "Chrome"}, {counter.DimCountry, "DE"}, {counter.DimRegion, "DE-BY"}} {
			if got := e.row(t, "shop.example", r[0], r[1]); got != person {
				t.Errorf("%s %q = %+v, want %+v", r[0], r[1], got, person)
			}
		}
		if got := e.row(t, "shop.example", counter.DimLink, saleLink); got != (counter.EmailCounts{Clicks: 1, UniqueClicks: 1}) {
			t.Errorf("link row %+v", got)
		}
		// The pixel loads later: an open, not a unique one (the click said so).
		if _, err := e.p.EmailOpen(ingest.Open{Site: e.shop, Campaign: "spring", Recipient: "r1"}, c); err != nil {
			t.Fatal(err)
		}
		// r2 opens, then clicks twice: no implied open, one unique click.
		if _, err := e.p.EmailOpen(ingest.Open{Site: e.shop, Campaign: "spring", Recipient: "r2"}, c); err != nil {
			t.Fatal(err)
		}
		e.click(t, ingest.Click{Label: "cta", Recipient: "r2"}, c)
		time.Sleep(time.Minute)
		e.click(t, ingest.Click{Label: "cta", Recipient: "r2"}, c)
		time.Sleep(time.Minute)
		synctest.Wait()
		want := counter.EmailCounts{Opens: 3, UniqueOpens: 2, ImpliedOpens: 1, Clicks: 3, UniqueClicks: 2}
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got != want {
			t.Fatalf("total %+v, want %+v", got, want)
		}
		if got := e.row(t, "shop.example", counter.DimLink, saleLink); got != (counter.EmailCounts{Clicks: 3, UniqueClicks: 2}) {
			t.Fatalf("link row %+v", got)
		}
	})
}

// TestMachineClicksByClass: each machine class with its real requests is
// counted apart, under its class and its link, and never as a person.
func TestMachineClicksByClass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newClickEnv(t, nil)
		cases := []struct {
			class string
			k     ingest.Click
			c     ingest.Client
		}{
			{counter.MachineHead, ingest.Click{Head: true}, ingest.Client{UserAgent: chromeUA}},
			{counter.MachinePrefetch, ingest.Click{}, ingest.Client{UserAgent: chromeUA, Prefetch: true}},
			{counter.MachineHoneypot, ingest.Click{Honeypot: true}, ingest.Client{UserAgent: chromeUA}},
			{counter.MachineScannerAgent, ingest.Click{}, ingest.Client{UserAgent: "Barracuda Sentinel (EE)"}},
			{counter.MachineScannerAgent, ingest.Click{}, ingest.Client{UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Microsoft Office Existence Discovery"}},
			{counter.MachineScannerAgent, ingest.Click{}, ingest.Client{UserAgent: ""}},
			{counter.MachineScannerAgent, ingest.Click{}, ingest.Client{UserAgent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}},
			{counter.MachineScannerAgent, ingest.Click{}, ingest.Client{UserAgent: "python-requests/2.31.0"}},
			{counter.MachineGmailPrefetch, ingest.Click{}, ingest.Client{UserAgent: mailclient.GmailPrefetchAgent}},
		}
		want := map[string]int64{}
		for i, tc := range cases {
			tc.k.Label = "cta"
			tc.k.Recipient = "m" + string(rune('a'+i))
			tc.c.IP = clientDE
			if o := e.click(t, tc.k, tc.c); o != ingest.Filtered {
				t.Errorf("%s (%q): outcome %s, want filtered", tc.class, tc.c.UserAgent, o)
			}
			want[tc.class]++
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		for class, n := range want {
			if got := e.row(t, "shop.example", counter.DimMachine, class); got != (counter.EmailCounts{MachineClicks: n}) {
				t.Errorf("class %s: %+v, want %d machine clicks", class, got, n)
			}
		}
		n := int64(len(cases))
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got != (counter.EmailCounts{MachineClicks: n}) {
			t.Errorf("total %+v, want only %d machine clicks", got, n)
		}
		if got := e.row(t, "shop.example", counter.DimLink, saleLink); got != (counter.EmailCounts{MachineClicks: n}) {
			t.Errorf("link %+v", got)
		}
	})
}

// TestMachineOpensByClass: the pixel's machines, with their real agents,
// are counted apart by class; the Gmail and Yahoo proxies relay a person's
// open and count as one, "via proxy".
func TestMachineOpensByClass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newClickEnv(t, nil)
		open := func(r, ua string) ingest.Outcome {
			o, err := e.p.EmailOpen(ingest.Open{Site: e.shop, Campaign: "spring", Recipient: r}, ingest.Client{IP: clientDE, UserAgent: ua})
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		for ua, class := range map[string]string{
			mailclient.AppleProxyAgent:    counter.MachineApplePrivacy,
			mailclient.GmailPrefetchAgent: counter.MachineGmailPrefetch,
			"Barracuda Sentinel (EE)":     counter.MachineScannerAgent,
		} {
			if o := open("r-"+class, ua); o != ingest.Filtered {
				t.Errorf("%s: outcome %s", class, o)
			}
			if got := e.row(t, "shop.example", counter.DimMachine, class); got != (counter.EmailCounts{MachineOpens: 1}) {
				t.Errorf("%s: %+v", class, got)
			}
		}
		for ua, client := range map[string]string{mailclient.GmailProxyAgent: "Gmail (via proxy)", mailclient.YahooProxyAgent: "Yahoo Mail (via proxy)"} {
			if o := open("r-"+client, ua); o != ingest.Counted {
				t.Errorf("%s: outcome %s", client, o)
			}
			if got := e.row(t, "shop.example", counter.DimClient, client); got != (counter.EmailCounts{Opens: 1, UniqueOpens: 1}) {
				t.Errorf("%s: %+v", client, got)
			}
		}
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got != (counter.EmailCounts{Opens: 2, UniqueOpens: 2, MachineOpens: 3}) {
			t.Errorf("total %+v", got)
		}
	})
}

// TestScannerBursts: links followed together for one recipient are a
// scanner's, with nothing of a person's counted (no unique, no implied
// open), so the person's own click later is their first.
func TestScannerBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newClickEnv(t, nil)
		c := ingest.Client{IP: clientDE, UserAgent: chromeUA}
		// Every link of a three-link message within a second.
		for _, l := range []string{"cta", "logo", "footer"} {
			e.click(t, ingest.Click{Label: l, Recipient: "r1", Links: 3}, c)
			time.Sleep(300 * time.Millisecond)
		}
		// Both links of a two-link message.
		e.click(t, ingest.Click{Label: "cta", Recipient: "r2", Links: 2}, c)
		e.click(t, ingest.Click{Label: "logo", Recipient: "r2", Links: 2}, c)
		// A human-looking click in the seconds of a honeypot follow.
		e.click(t, ingest.Click{Label: "hp", Recipient: "r3", Links: 3, Honeypot: true}, c)
		e.click(t, ingest.Click{Label: "cta", Recipient: "r3", Links: 3}, c)
		time.Sleep(ingest.DefaultClickBurstWindow)
		synctest.Wait()
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got != (counter.EmailCounts{MachineClicks: 7}) {
			t.Fatalf("total %+v, want 7 machine clicks and nothing of a person", got)
		}
		if b, h := e.row(t, "shop.example", counter.DimMachine, counter.MachineBurst), e.row(t, "shop.example", counter.DimMachine, counter.MachineHoneypot); b.MachineClicks != 5 || h.MachineClicks != 2 {
			t.Fatalf("burst %+v honeypot %+v, want 5 and 2", b, h)
		}
		// Later, r1 clicks: their first click, and an implied open.
		time.Sleep(time.Hour)
		e.click(t, ingest.Click{Label: "cta", Recipient: "r1", Links: 3}, c)
		time.Sleep(ingest.DefaultClickBurstWindow)
		synctest.Wait()
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got != (counter.EmailCounts{MachineClicks: 7, Clicks: 1, UniqueClicks: 1, Opens: 1, UniqueOpens: 1, ImpliedOpens: 1}) {
			t.Fatalf("after the person's click: %+v", got)
		}
	})
}

// TestPeopleAreNotBursts: two links of a three-link message seconds
// apart, and a time-of-click checker's HEAD next to a person's click,
// stay a person's.
func TestPeopleAreNotBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newClickEnv(t, nil)
		c := ingest.Client{IP: clientDE, UserAgent: chromeUA}
		e.click(t, ingest.Click{Label: "cta", Recipient: "r1", Links: 3}, c)
		time.Sleep(2 * time.Second)
		e.click(t, ingest.Click{Label: "logo", Recipient: "r1", Links: 3}, c)
		e.click(t, ingest.Click{Label: "cta", Recipient: "r2", Links: 3, Head: true}, c)
		e.click(t, ingest.Click{Label: "cta", Recipient: "r2", Links: 3}, c)
		time.Sleep(ingest.DefaultClickBurstWindow)
		synctest.Wait()
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got != (counter.EmailCounts{Clicks: 3, UniqueClicks: 2, Opens: 2, UniqueOpens: 2, ImpliedOpens: 2, MachineClicks: 1}) {
			t.Fatalf("total %+v", got)
		}
	})
}

// TestStrictClicks: in strict mode a click without the signed consent bit
// counts in the campaign's total and its link only; with it, as anywhere.
func TestStrictClicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newClickEnv(t, nil)
		c := ingest.Client{IP: clientDE, UserAgent: chromeUA}
		if o := e.click(t, ingest.Click{Site: e.news, Label: "cta", Recipient: "r1"}, c); o != ingest.ConsentOnly {
			t.Fatalf("outcome %s", o)
		}
		e.click(t, ingest.Click{Site: e.news, Label: "cta", Recipient: "r2", RecipientConsent: true}, c)
		time.Sleep(ingest.DefaultClickBurstWindow + time.Second)
		synctest.Wait()
		if got := e.row(t, "news.example", counter.DimTotal, ""); got != (counter.EmailCounts{Clicks: 2, UniqueClicks: 1, Opens: 1, UniqueOpens: 1, ImpliedOpens: 1}) {
			t.Fatalf("total %+v", got)
		}
		if got := e.row(t, "news.example", counter.DimCountry, "DE"); got.Clicks != 1 {
			t.Fatalf("country %+v: only the consented click", got)
		}
		if got := e.row(t, "news.example", counter.DimLink, "cta news.example/sale"); got != (counter.EmailCounts{}) {
			t.Fatalf("unexpected %+v", got)
		}
		if got := e.row(t, "news.example", counter.DimLink, saleLink); got.Clicks != 2 {
			t.Fatalf("link %+v", got)
		}
	})
}

// TestLinkTargetKeepsNoQueryOrIdentifier: a link row keeps the host and
// the scrubbed path of the destination, never its query, fragment, port
// or an address.
func TestLinkTargetKeepsNoQueryOrIdentifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newClickEnv(t, nil)
		c := ingest.Client{IP: clientDE, UserAgent: chromeUA}
		for dest, want := range map[string]string{
			"https://Shop.Example:8443/reset/0f8a9c2e4b7d4e0c9a1b2c3d4e5f6a7b?email=alice%40example.com#x": "r shop.example/reset/:id",
			"http://198.51.100.7/u/alice@example.com":                                                      "r :ip/u/:email",
			"https://example.org?q=secret":                                                                 "r example.org/",
		} {
			e.click(t, ingest.Click{Label: "r", Destination: dest}, c) // no token: counted at once
			if got := e.row(t, "shop.example", counter.DimLink, want); got.Clicks != 1 {
				t.Errorf("%s: link %q not counted (%+v)", dest, want, got)
			}
		}
	})
}

// TestCloseCommitsHeldClicks: shutting down counts what is held, and
// clicks after that are counted at once.
func TestCloseCommitsHeldClicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newClickEnv(t, nil)
		c := ingest.Client{IP: clientDE, UserAgent: chromeUA}
		e.click(t, ingest.Click{Label: "cta", Recipient: "r1"}, c)
		e.p.Close()
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got.Clicks != 1 {
			t.Fatalf("held click not committed by Close: %+v", got)
		}
		if o := e.click(t, ingest.Click{Label: "cta", Recipient: "r2"}, c); o != ingest.Counted {
			t.Fatalf("after Close: %s", o)
		}
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got.Clicks != 2 {
			t.Fatalf("%+v", got)
		}
		time.Sleep(time.Minute) // no timer left to count anything twice
		synctest.Wait()
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got.Clicks != 2 {
			t.Fatalf("%+v", got)
		}
	})
}

func TestShedsClicksPastTheHeldBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newClickEnv(t, func(o *ingest.Options) { o.MaxHeldClicks = 1 })
		c := ingest.Client{IP: clientDE, UserAgent: chromeUA}
		e.click(t, ingest.Click{Label: "cta", Recipient: "r1"}, c)
		_, err := e.p.EmailClick(ingest.Click{Site: e.shop, Campaign: "spring", Label: "cta", Recipient: "r2", Destination: "https://shop.example/"}, c)
		overload(t, err, ingest.ShedHeldClicks)
		time.Sleep(ingest.DefaultClickBurstWindow + time.Second)
		synctest.Wait()
		if got := e.row(t, "shop.example", counter.DimTotal, ""); got.Clicks != 1 {
			t.Fatalf("%+v", got)
		}
		e.click(t, ingest.Click{Label: "cta", Recipient: "r2"}, c) // room again
	})
}
