package ingest

import (
	"errors"
	"strings"
	"unicode/utf8"

	"tally/aggregator"
	"tally/collector/consent"
	"tally/collector/netclass"
	"tally/collector/referrer"
	"tally/collector/spam"
	"tally/collector/uniques"
	"tally/collector/useragent"
	"tally/collector/visits"
	"tally/counter"
	"tally/goals"
	"tally/scrub"
	"tally/sites"
)

// Event is a page view or custom event, as parsed from the API or a pixel.
// Name, URL and Referrer must belong to the caller (not to a reused
// request buffer): counter rows keep parts of them as keys (the referrer's
// path, when it is a page of the site). Consent.TCF is only read during
// the call.
type Event struct {
	Site     *sites.Site
	Name     string // "pageview" or a custom event name
	URL      string
	Referrer string
	// Consent carries the explicit choice and TCF string; GPC and DNT come
	// from Client.
	Consent consent.Signals
	// Visit is what the sender tells of the visit besides the referrer
	// (our tracker's flags; whether it knows the referrer at all).
	Visit visits.Hit
	// Automated: the tracker saw navigator.webdriver, which automation
	// frameworks set (WebDriver, Puppeteer, Playwright) and people's
	// browsers do not.
	Automated bool
	// Props are the custom properties as sent (ParseProps). They may
	// alias a buffer of the caller, which must stay unchanged during the
	// call; only the site's allow-listed names and the built-ins of the
	// automatic events are read (conversions.go).
	Props Props
	// Revenue is counted on a custom event that converts a goal, once
	// under each goal it converts; on any other hit it is dropped.
	Revenue Revenue
	// Hash: the site routes by the URL's fragment (Plausible's h), which
	// is then part of the counted path (referrer.WithFragment).
	Hash bool
}

// PageviewName is the event name of a page view (Plausible's).
const PageviewName = "pageview"

// MaxNameLen bounds custom event names.
const MaxNameLen = 120

// Errors for event input the pipeline refuses; handlers answer them with
// a 4xx.
var (
	ErrBadName     = errors.New("event name must be 1 to 120 printable characters")
	ErrForeignHost = errors.New("url host is not one of the site's hostnames")
)

// Event counts a page view or custom event. An error means nothing was
// counted: bad input, or an *OverloadError.
func (p *Pipeline) Event(ev Event, c Client) (Outcome, error) {
	if err := p.overRows(); err != nil {
		return "", err
	}
	name, err := cleanName(ev.Name)
	if err != nil {
		return "", err
	}
	page, err := referrer.ParsePage(ev.URL)
	if err != nil {
		return "", err
	}
	if !ev.Site.OwnsHost(page.Host) {
		return "", ErrForeignHost
	}
	if ev.Hash {
		page.Path = referrer.WithFragment(ev.URL, page.Path)
	}
	// ParsePage scrubbed the identifiers it recognises; the site's own
	// rules (path_rules) name the ones only the site knows.
	page.Path = ev.Site.PathRules.Apply(page.Path)

	// Consent is decided before anything is derived from the request.
	sig := ev.Consent
	sig.GPC, sig.DNT = c.GPC, c.DNT
	decision := consent.Decide(ev.Site.Mode, sig)

	// Bots and prefetches pass the consent gate like any other hit: where
	// counters are not allowed (strict mode without consent) nothing is
	// recorded about the hit but the consent state, not even that it was
	// a bot.
	now := p.opts.Now() // one read: the hour and the visitor's day agree
	hour := counter.HourOf(now)
	consentRow := aggregator.WebUpdate{Dimension: counter.DimConsent, Value: decision.State.String(),
		Counts: counter.WebCounts{Hits: 1}}
	if !decision.Counters {
		p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, []aggregator.WebUpdate{consentRow})
		return ConsentOnly, nil
	}

	agent := p.opts.Agents.Classify(c.UserAgent)
	if reason := p.filterReason(agent, ev, c); reason != "" {
		p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, []aggregator.WebUpdate{
			{Dimension: counter.DimFiltered, Value: reason, Counts: counter.WebCounts{Hits: 1}},
		})
		return Filtered, nil
	}

	var vis uniques.Visitor // zero: never a first visit
	if decision.Uniques {
		var ok bool
		// Each site is held to its share of the pairs (bounds.go).
		if vis, ok = p.opts.Visitors.VisitorUnder(now, ev.Site.Domain, p.pairShare, c.IP, c.UserAgent); !ok {
			// Counting without the uniques would undercount visitors
			// silently: shed the whole hit instead.
			return "", p.overVisitorPairs()
		}
	}
	// One pair per dimension counted: a custom event counts its name, a
	// page view every dimension of the page and the visitor (dims.go).
	var pairs [pageDimensions]uniques.Pair
	n := 0
	view := eventView // a page view's is made below (visits.go)
	if name != PageviewName {
		pairs[0] = uniques.Pair{Dimension: counter.DimEvent, Value: name}
		n = 1
	} else {
		arr := p.sources.Arrive(page, ev.Referrer, ev.Site.OwnsHost)
		if ev.Hash && arr.Internal {
			arr.Path = referrer.WithFragment(ev.Referrer, arr.Path)
		}
		p.pageDims(&pairs, page, arr, agent, c)
		n = len(pairs)
		view = visitOf(ev, arr)
	}
	p.opts.Visitors.FirstTodayAll(vis, pairs[:n]) // all false for the zero visitor
	// Attribution and funnels: only with the day's visitor key, which
	// vis holds only where decision.Uniques allowed it (journey.go).
	// The site's conversion set is read once: a goal edited in the
	// dashboard meanwhile must not split one hit's rows between two sets.
	set := p.goalSet(ev.Site.Domain)
	var matchBuf [goals.MaxGoals]int
	var matched []int // the goals the hit converts, matched once for both uses
	if set != nil {
		matched = set.Match(goals.Hit{Event: name, Path: page.Path}, matchBuf[:0])
	}
	p.journey(set, matched, ev.Site, now, hour, vis, name, &view, pairs[:n])

	var updates [2 + len(pairs)]aggregator.WebUpdate
	updates[0] = consentRow
	for i := range pairs[:n] {
		// Filled in place: a row's counts are 88 bytes, and each copy of
		// an update shows in the time of a hit.
		pr, u := &pairs[i], &updates[1+i]
		u.Dimension, u.Value = pr.Dimension, pr.Value
		u.Counts = *view.counts(pr.Dimension)
		if pr.First {
			u.Counts.Visitors = 1
		}
	}
	n++
	if view.takeBack != "" {
		updates[n] = aggregator.WebUpdate{Dimension: counter.DimPath, Value: view.takeBack, Counts: counter.WebCounts{Exits: -1}}
		n++
	}
	if set != nil {
		p.addConversions(set, matched, &conversionHit{site: ev.Site, name: name, path: page.Path, props: ev.Props,
			revenue: ev.Revenue, uniques: decision.Uniques, vis: vis, pageview: name == PageviewName}, hour, updates[:n])
		return Counted, nil
	}
	p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, updates[:n])
	return Counted, nil
}

// filterReason says why a hit is not traffic, or "". The layers run from
// the cheapest and surest to the ones that need more of the request; the
// first that matches names the reason (the "filtered" counter's value).
// The address is only looked up, never kept.
func (p *Pipeline) filterReason(a useragent.Agent, ev Event, c Client) string {
	switch {
	case a.Bot != useragent.BotNone:
		return a.Bot
	case ev.Automated:
		return useragent.BotAutomation
	case p.opts.DataCentres != nil && p.opts.DataCentres.Contains(c.IP):
		return netclass.Reason
	case p.opts.Spam != nil && p.opts.Spam.Referrer(ev.Referrer):
		return spam.Reason
	}
	if r := useragent.Shape(a, useragent.Headers{AcceptLanguage: c.AcceptLanguage}); r != useragent.BotNone {
		return r
	}
	if c.Prefetch {
		return "prefetch"
	}
	return ""
}

// cleanName validates an event name and scrubs it: a name is a counted
// value like any other, and could carry an address or a token.
func cleanName(n string) (string, error) {
	if n == PageviewName {
		return n, nil // most hits: nothing to check
	}
	n = strings.TrimSpace(n)
	if n == "" || len(n) > MaxNameLen || !utf8.ValidString(n) {
		return "", ErrBadName
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "", ErrBadName
		}
	}
	return scrub.Value(n), nil
}
