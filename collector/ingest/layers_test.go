package ingest_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"tally/collector/channel"
	"tally/collector/consent"
	"tally/collector/ingest"
	"tally/collector/netclass"
	"tally/collector/spam"
	"tally/collector/useragent"
	"tally/counter"
)

const (
	// dcAddr is in the test's data-centre range; 10.1.2.3 (DE-BY in the
	// geo fixture) is not.
	dcAddr  = "10.9.0.7"
	dcRange = "10.9.0.0/16"
	gptBot  = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
	// spamRef is a host of the embedded referrer-spam list.
	spamRef = "https://100dollars-seo.com/"
)

// newRows flushes and returns what the hits since the last call added.
func newRows(t *testing.T, env *benchEnv) map[counter.WebKey]counter.WebCounts {
	t.Helper()
	if err := env.agg.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env.sink.TakeWebRows()
}

// newLayersEnv is the test environment with a data-centre layer that
// lists only dcRange.
func newLayersEnv(t *testing.T) *benchEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ranges.txt")
	if err := os.WriteFile(path, []byte(dcRange+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dc, err := netclass.New(netclass.Options{CIDRFiles: []string{path}, NoDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	return newTestEnv(t, func(o *ingest.Options) { o.DataCentres = dc })
}

// TestFilterLayers: each layer filters with its own reason, the first
// that matches wins, and a filtered hit adds its reason and nothing else.
func TestFilterLayers(t *testing.T) {
	env := newLayersEnv(t)
	f := func(name string, set func(*ingest.Event, *ingest.Client), want string) {
		t.Helper()
		ev, c := pageview(env, "/", consent.Granted)
		set(&ev, &c)
		o, err := env.p.Event(ev, c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rows := newRows(t, env)
		if want == "" {
			if o != ingest.Counted {
				t.Errorf("%s: %s, want counted; rows %v", name, o, rows)
			}
			return
		}
		k := counter.WebKey{Site: "shop.example", Hour: counter.HourOf(testNow), Dimension: counter.DimFiltered, Value: want}
		if o != ingest.Filtered || len(rows) != 1 || rows[k] != (counter.WebCounts{Hits: 1}) {
			t.Errorf("%s: %s with rows %v, want one filtered %s hit", name, o, rows, want)
		}
	}
	none := func(*ingest.Event, *ingest.Client) {}
	f("a person", none, "")
	f("AI crawler", func(_ *ingest.Event, c *ingest.Client) { c.UserAgent = gptBot }, useragent.BotAI)
	f("navigator.webdriver", func(ev *ingest.Event, _ *ingest.Client) { ev.Automated = true }, useragent.BotAutomation)
	f("data centre", func(_ *ingest.Event, c *ingest.Client) { c.IP = netip.MustParseAddr(dcAddr) }, netclass.Reason)
	f("data centre, IPv4-mapped", func(_ *ingest.Event, c *ingest.Client) { c.IP = netip.MustParseAddr("::ffff:" + dcAddr) }, netclass.Reason)
	f("spam referrer", func(ev *ingest.Event, _ *ingest.Client) { ev.Referrer = spamRef }, spam.Reason)
	f("no Accept-Language", func(_ *ingest.Event, c *ingest.Client) { c.AcceptLanguage = false }, useragent.BotRequestShape)
	f("prefetch", func(_ *ingest.Event, c *ingest.Client) { c.Prefetch = true }, "prefetch")
	// The order: agent, webdriver, address, referrer, request shape, prefetch.
	f("AI crawler from a data centre", func(ev *ingest.Event, c *ingest.Client) {
		c.UserAgent, c.IP, ev.Automated = gptBot, netip.MustParseAddr(dcAddr), true
	}, useragent.BotAI)
	f("webdriver from a data centre", func(ev *ingest.Event, c *ingest.Client) {
		ev.Automated, c.IP, ev.Referrer = true, netip.MustParseAddr(dcAddr), spamRef
	}, useragent.BotAutomation)
	f("data centre with a spam referrer", func(ev *ingest.Event, c *ingest.Client) {
		c.IP, ev.Referrer, c.AcceptLanguage = netip.MustParseAddr(dcAddr), spamRef, false
	}, netclass.Reason)
	f("spam referrer without Accept-Language", func(ev *ingest.Event, c *ingest.Client) {
		ev.Referrer, c.AcceptLanguage, c.Prefetch = spamRef, false, true
	}, spam.Reason)
	f("prefetch without Accept-Language", func(_ *ingest.Event, c *ingest.Client) {
		c.AcceptLanguage, c.Prefetch = false, true
	}, useragent.BotRequestShape)

	// Without the optional layers the same hits are people.
	env = newTestEnv(t, func(o *ingest.Options) { o.DataCentres, o.Spam = nil, nil })
	ev, c := pageview(env, "/", consent.Granted)
	ev.Referrer = spamRef
	if o, err := env.p.Event(ev, c); err != nil || o != ingest.Counted {
		t.Errorf("spam layer off: %s %v, want counted", o, err)
	}
}

// TestBotsPassTheConsentGate: in strict mode without consent a bot's or a
// prefetch's hit records what any hit without consent records, the
// consent state, and not that it was filtered (issue 8, item 6). With
// consent it records only its filtered reason.
func TestBotsPassTheConsentGate(t *testing.T) {
	env := newLayersEnv(t)
	strict := env.sites[1]
	if strict.Domain != "news.example" {
		t.Fatalf("the fixture's second site is %s, want the strict news.example", strict.Domain)
	}
	hour := counter.HourOf(testNow)
	for _, tc := range []struct {
		name string
		set  func(*ingest.Event, *ingest.Client)
	}{
		{"crawler", func(_ *ingest.Event, c *ingest.Client) { c.UserAgent = gptBot }},
		{"prefetch", func(_ *ingest.Event, c *ingest.Client) { c.Prefetch = true }},
		{"data centre", func(_ *ingest.Event, c *ingest.Client) { c.IP = netip.MustParseAddr(dcAddr) }},
		{"webdriver", func(ev *ingest.Event, _ *ingest.Client) { ev.Automated = true }},
	} {
		for _, state := range []consent.State{consent.Unknown, consent.Denied, consent.Granted} {
			ev := ingest.Event{Site: strict, Name: ingest.PageviewName, URL: "https://news.example/",
				Consent: consent.Signals{Analytics: state}}
			c := ingest.Client{IP: netip.MustParseAddr("10.1.2.3"), UserAgent: firefox, AcceptLanguage: true}
			tc.set(&ev, &c)
			o, err := env.p.Event(ev, c)
			if err != nil {
				t.Fatal(err)
			}
			rows := newRows(t, env)
			if state != consent.Granted {
				k := counter.WebKey{Site: strict.Domain, Hour: hour, Dimension: counter.DimConsent, Value: state.String()}
				if o != ingest.ConsentOnly || len(rows) != 1 || rows[k] != (counter.WebCounts{Hits: 1}) {
					t.Errorf("%s, consent %s: %s with rows %v, want only the consent counter", tc.name, state, o, rows)
				}
				continue
			}
			if o != ingest.Filtered || len(rows) != 1 {
				t.Errorf("%s, consent granted: %s with rows %v, want one filtered row", tc.name, o, rows)
			}
			for k := range rows {
				if k.Dimension != counter.DimFiltered {
					t.Errorf("%s, consent granted: row %v", tc.name, k)
				}
			}
		}
	}
}

// TestAIReferralChannel: a visit from an assistant counts under its name
// as the source and under the ai channel.
func TestAIReferralChannel(t *testing.T) {
	env := newTestEnv(t, nil)
	for _, tc := range []struct{ url, ref, source string }{
		{"/a", "https://chatgpt.com/", "ChatGPT"},
		{"/b?utm_source=chatgpt.com", "", "chatgpt.com"},
		{"/c", "https://www.perplexity.ai/search/abc", "Perplexity"},
		{"/d", "https://gemini.google.com/app/1", "Gemini"},
	} {
		ev, c := pageview(env, tc.url, consent.Unknown)
		ev.Referrer = tc.ref
		if o, err := env.p.Event(ev, c); err != nil || o != ingest.Counted {
			t.Fatalf("%s: %s %v", tc.url, o, err)
		}
		rows := newRows(t, env)
		k := counter.WebKey{Site: "shop.example", Hour: counter.HourOf(testNow)}
		k.Dimension, k.Value = counter.DimSource, tc.source
		src := rows[k]
		k.Dimension, k.Value = counter.DimChannel, string(channel.AI)
		ch := rows[k]
		if src.Pageviews != 1 || ch.Pageviews != 1 {
			t.Errorf("%s from %q: source %q %+v, channel ai %+v; rows %v", tc.url, tc.ref, tc.source, src, ch, rows)
		}
	}
}

// TestMachineOpens: an email open by a crawler or an AI agent is a
// machine's, but an agent that is merely not a browser (a mail app's own
// HTTP stack) is a person reading.
func TestMachineOpens(t *testing.T) {
	env := newTestEnv(t, nil)
	for _, tc := range []struct {
		ua      string
		machine bool
	}{
		{gptBot, true},
		{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", true},
		{"ExampleMailApp/3.1 CFNetwork/1410.0.3 Darwin/22.6.0", false},
		{firefox, false},
	} {
		o, err := env.p.EmailOpen(ingest.Open{Site: env.sites[0], Campaign: "spring"},
			ingest.Client{IP: netip.MustParseAddr("10.1.2.3"), UserAgent: tc.ua})
		if err != nil {
			t.Fatal(err)
		}
		if got := o == ingest.Filtered; got != tc.machine {
			t.Errorf("open by %q: %s, machine %v", tc.ua, o, tc.machine)
		}
	}
}
