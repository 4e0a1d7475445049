package ingest_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"tally/aggregator"
	"tally/collector/consent"
	"tally/collector/geo"
	"tally/collector/ingest"
	"tally/collector/uniques"
	"tally/collector/visits"
	"tally/internal/memsink"
	"tally/internal/testpipe"
	"tally/sites"
)

// benchSites: an anonymous-mode site, a strict one and one with a second
// hostname; all can receive email opens.
const benchSites = `{"sites":[
 {"domain":"shop.example","hostnames":["www.shop.example"],"email_secret":"bench-secret-0123456789abcdef-0123456789"},
 {"domain":"news.example","consent_mode":"strict","email_secret":"bench-secret-0123456789abcdef-0123456789"},
 {"domain":"blog.example","email_secret":"bench-secret-0123456789abcdef-0123456789"}]}`

// benchGeo is the fixture database: a /16 per region, so clients drawn from
// these networks resolve to a country and, mostly, a subdivision.
var benchGeo = map[string]geo.Region{
	"10.1.0.0/16":   {Country: "DE", Subdivision: "DE-BY"},
	"10.2.0.0/16":   {Country: "DE", Subdivision: "DE-BE"},
	"10.3.0.0/16":   {Country: "FR", Subdivision: "FR-IDF"},
	"10.4.0.0/16":   {Country: "GB", Subdivision: "GB-ENG"},
	"10.5.0.0/16":   {Country: "US", Subdivision: "US-CA"},
	"10.6.0.0/16":   {Country: "US", Subdivision: "US-NY"},
	"10.7.0.0/16":   {Country: "NL"},
	"10.8.0.0/16":   {Country: "BR", Subdivision: "BR-SP"},
	"2001:db8::/32": {Country: "JP", Subdivision: "JP-13"},
}

// loadAgents reads testdata/useragents.txt.
func loadAgents(tb testing.TB) []string {
	tb.Helper()
	f, err := os.Open("testdata/useragents.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := s.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := s.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) < 300 {
		tb.Fatalf("testdata/useragents.txt has %d agents, want at least 300", len(out))
	}
	return out
}

type benchEnv struct {
	p        *ingest.Pipeline
	agg      *aggregator.Aggregator
	sink     *memsink.Sink
	visitors *uniques.Visitors
	opens    *uniques.Opens
	sites    []*sites.Site
	agents   []string
	rng      *rand.Rand
}

// newBenchEnv builds the real pipeline: geo on a fixture database, the real
// classifier, real uniques and the real aggregator (which never flushes
// during a benchmark), on the real clock (reading it is part of the cost
// of a hit).
func newBenchEnv(tb testing.TB) *benchEnv {
	return newEnv(tb, time.Now, nil)
}

// newEnv is newBenchEnv with a given clock; tune, if set, adjusts the
// pipeline's options.
func newEnv(tb testing.TB, clock func() time.Time, tune func(*ingest.Options)) *benchEnv {
	tb.Helper()
	reg, err := sites.Parse(strings.NewReader(benchSites))
	if err != nil {
		tb.Fatal(err)
	}
	pipe := testpipe.New(tb, testpipe.Options{
		Regions:    benchGeo,
		Now:        clock,
		Aggregator: func(o *aggregator.Options) { o.FlushRows = 1 << 30 },
		Pipeline:   tune,
	})
	env := &benchEnv{
		p:        pipe.Pipeline,
		agg:      pipe.Aggregator,
		sink:     pipe.Sink,
		visitors: pipe.Visitors,
		opens:    pipe.Opens,
		agents:   loadAgents(tb),
		rng:      rand.New(rand.NewPCG(1, 2)),
	}
	for _, d := range []string{"shop.example", "news.example", "blog.example"} {
		s, _ := reg.Lookup(d)
		env.sites = append(env.sites, s)
	}
	return env
}

// clientIP draws an address from the fixture's networks (and a few that
// the database does not know).
func (e *benchEnv) clientIP() netip.Addr {
	n := e.rng.IntN(10)
	switch n {
	case 0:
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(e.rng.IntN(256)), 15: byte(e.rng.IntN(256))})
	case 9:
		return netip.AddrFrom4([4]byte{192, 0, 2, byte(e.rng.IntN(256))})
	}
	return netip.AddrFrom4([4]byte{10, byte(n), byte(e.rng.IntN(256)), byte(e.rng.IntN(256))})
}

type webHit struct {
	ev ingest.Event
	c  ingest.Client
}

var (
	benchPaths = []string{"/", "/pricing", "/about", "/blog", "/blog/launch", "/blog/privacy-by-design",
		"/docs", "/docs/install", "/docs/api", "/contact", "/careers", "/products/a", "/products/b", "/cart"}
	benchQueries = []string{"", "", "", "", "?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
		"?ref=producthunt", "?utm_source=twitter", "?q=search+terms&page=2"}
	benchReferrers = []string{"", "", "", "https://www.google.com/", "https://www.google.de/search?q=x",
		"https://t.co/abc", "https://news.ycombinator.com/item?id=1", "https://other-blog.example.net/post",
		"https://l.facebook.com/l.php?u=x", "self"}
)

// webHits builds n realistic hits: the distinct agents, client addresses
// drawn from a population of `clients`, several paths, UTM tags and
// referrers, consent granted, denied and unknown, and some custom events.
func (e *benchEnv) webHits(n, clients int, tcf bool) []webHit {
	ips := make([]netip.Addr, clients)
	for i := range ips {
		ips[i] = e.clientIP()
	}
	hits := make([]webHit, n)
	for i := range hits {
		site := e.sites[e.rng.IntN(len(e.sites))]
		host := site.Domain
		if site.Domain == "shop.example" && e.rng.IntN(2) == 0 {
			host = "www.shop.example"
		}
		ref := benchReferrers[e.rng.IntN(len(benchReferrers))]
		if ref == "self" {
			ref = "https://" + host + "/"
		}
		var sig consent.Signals
		switch r := e.rng.IntN(10); {
		case r < 4:
			sig.Analytics = consent.Granted
		case r < 5:
			sig.Analytics = consent.Denied
		case tcf && r < 7:
			sig.TCF = tcfStrings[r%2]
		}
		name := ingest.PageviewName
		if e.rng.IntN(10) == 0 {
			name = []string{"signup", "download", "Outbound Link: Click"}[e.rng.IntN(3)]
		}
		hits[i] = webHit{
			ev: ingest.Event{
				Site:     site,
				Name:     name,
				URL:      "https://" + host + benchPaths[e.rng.IntN(len(benchPaths))] + benchQueries[e.rng.IntN(len(benchQueries))],
				Referrer: ref,
				Consent:  sig,
			},
			c: ingest.Client{
				IP:        ips[e.rng.IntN(len(ips))],
				UserAgent: e.agents[e.rng.IntN(len(e.agents))],
				DNT:       e.rng.IntN(20) == 0,
				GPC:       e.rng.IntN(20) == 0,
				// Every browser sends Accept-Language (see
				// useragent.Shape); without it every hit would be
				// filtered as request_shape.
				AcceptLanguage: true,
			},
		}
	}
	return hits
}

// Public TCF v2 test vectors (as in the consent tests): purpose 8 granted,
// and not granted.
var tcfStrings = [2]string{
	"COyiBqdOyiBqdObAAAENAfCIAP8AAH-AAAAAB4AXQQgEAAAgoAAAAABAIYQUAAAAAAAAAAAAAAAIQIQCxIvkgQMAAAABgAIAAAAAAAAAAABAZAkAAA",
	"COwGVJOOwGVJOADACHENAOCAAO6as_-AAAhoAFNLAAoAAAA",
}

// BenchmarkPipelineEvent runs web hits through the whole pipeline. Every
// hit comes from a population of 20,000 client addresses times 329 agents,
// so after the warm-up pass most visitor pairs are known, as in a day's
// steady state; allocs/op is the figure to watch (target: at most 1).
func BenchmarkPipelineEvent(b *testing.B) {
	for _, bc := range []struct {
		name string
		tcf  bool
	}{{"mix", false}, {"mix+tcf", true}} {
		b.Run(bc.name, func(b *testing.B) {
			env := newBenchEnv(b)
			hits := env.webHits(1<<16, 20_000, bc.tcf)
			// Warm up: classifier cache, subdivision codes, counter rows
			// and most visitor pairs.
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
			b.ReportMetric(float64(env.visitors.Len()), "pairs")
		})
	}
}

// BenchmarkPipelineEventParallel is BenchmarkPipelineEvent on every core:
// the locks in uniques and the aggregator are what it measures.
func BenchmarkPipelineEventParallel(b *testing.B) {
	env := newBenchEnv(b)
	hits := env.webHits(1<<16, 20_000, false)
	for _, h := range hits {
		env.p.Event(h.ev, h.c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(hits))
		for pb.Next() {
			h := &hits[i&(len(hits)-1)]
			env.p.Event(h.ev, h.c)
			i++
		}
	})
}

type openHit struct {
	o ingest.Open
	c ingest.Client
}

// BenchmarkPipelineEmailOpen runs email opens: mail clients, privacy
// proxies and webmail in browsers, 50,000 recipients over 20 campaigns, a
// quarter of them without a recipient token.
func BenchmarkPipelineEmailOpen(b *testing.B) {
	env := newBenchEnv(b)
	mail := env.agents[len(env.agents)-6:]
	opens := make([]openHit, 1<<16)
	for i := range opens {
		ua := mail[env.rng.IntN(len(mail))]
		if env.rng.IntN(3) == 0 {
			ua = env.agents[env.rng.IntN(len(env.agents))] // webmail in a browser
		}
		recipient := ""
		if env.rng.IntN(4) != 0 {
			recipient = fmt.Sprintf("r%d", env.rng.IntN(50_000))
		}
		opens[i] = openHit{
			o: ingest.Open{
				Site:             env.sites[env.rng.IntN(len(env.sites))],
				Campaign:         fmt.Sprintf("campaign-%d", env.rng.IntN(20)),
				Recipient:        recipient,
				RecipientConsent: env.rng.IntN(2) == 0,
			},
			c: ingest.Client{IP: env.clientIP(), UserAgent: ua},
		}
	}
	for _, h := range opens {
		if _, err := env.p.EmailOpen(h.o, h.c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := &opens[i&(len(opens)-1)]
		env.p.EmailOpen(h.o, h.c)
	}
}

// BenchmarkPipelineEngagement runs engagement reports of our tracker and
// Plausible's on the bench's pages: a tenth of them from an entry page left
// for another page of the site (the bounce taken back in every row).
func BenchmarkPipelineEngagement(b *testing.B) {
	env := newBenchEnv(b)
	hits := env.webHits(1<<16, 20_000, false)
	reports := make([]ingest.Engagement, len(hits))
	for i, h := range hits {
		r := visits.Report{EngagedMS: int64(env.rng.IntN(60_000)), Scroll: env.rng.IntN(101)}
		switch env.rng.IntN(10) {
		case 0:
			r.Flags = visits.Tracked | visits.First | visits.NotBounce
		case 1, 2, 3, 4:
			r.Flags = visits.Tracked
		}
		reports[i] = ingest.Engagement{Site: h.ev.Site, URL: h.ev.URL, Referrer: h.ev.Referrer, Consent: h.ev.Consent, Report: r}
	}
	for i, r := range reports {
		env.p.Engagement(r, hits[i].c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i & (len(reports) - 1)
		env.p.Engagement(reports[j], hits[j].c)
	}
}
