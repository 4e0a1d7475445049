// Package ingest is the collector's pipeline: it takes one validated hit,
// runs the steps in the order the privacy promise requires (consent first,
// then bot filtering, region, uniques) and hands aggregate deltas to the
// aggregator. The client address and user agent stop here: nothing that
// leaves this package carries them.
package ingest

import (
	"errors"
	"maps"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"tally/aggregator"
	"tally/collector/consent"
	"tally/collector/geo"
	"tally/collector/mailclient"
	"tally/collector/referrer"
	"tally/collector/sites"
	"tally/collector/uniques"
	"tally/collector/useragent"
)

// Client is what the pipeline may know of the requester, for this request
// only.
type Client struct {
	IP        netip.Addr
	UserAgent string
	GPC, DNT  bool
	// Prefetch: the browser fetched the page speculatively (Sec-Purpose).
	Prefetch bool
}

// Event is a page view or custom event, as parsed from the API or a pixel.
type Event struct {
	Site     *sites.Site
	Name     string // "pageview" or a custom event name
	URL      string
	Referrer string
	// Consent carries the explicit choice and TCF string; GPC and DNT come
	// from Client.
	Consent consent.Signals
}

// PageviewName is the event name of a page view (Plausible's).
const PageviewName = "pageview"

// MaxNameLen bounds custom event names.
const MaxNameLen = 120

// Errors for input the pipeline refuses; handlers answer them with a 4xx.
var (
	ErrBadName     = errors.New("event name must be 1 to 120 printable characters")
	ErrForeignHost = errors.New("url host is not one of the site's hostnames")
	ErrBadCampaign = errors.New("campaign must be 1 to 100 characters of letters, digits, '.', '_' or '-'")
	ErrBadCount    = errors.New("count must be between 1 and 100000000")
)

// Outcome says what happened to a hit, for metrics and tests.
type Outcome string

const (
	Counted     Outcome = "counted"      // counters recorded
	ConsentOnly Outcome = "consent_only" // strict mode without consent: only the consent counter
	Filtered    Outcome = "filtered"     // a bot or prefetch: only the filtered counter
	Unsigned    Outcome = "unsigned"     // email pixel without a valid signature: nothing
)

// Options wire the steps.
type Options struct {
	Geo        *geo.Locator
	Agents     *useragent.Classifier
	Visitors   *uniques.Visitors
	Opens      *uniques.Opens
	Aggregator *aggregator.Aggregator
	Now        func() time.Time // time.Now when nil
}

// Pipeline runs hits through the steps. Safe for concurrent use.
type Pipeline struct {
	opts    Options
	webmail webmailNames
}

// New checks the options.
func New(opts Options) (*Pipeline, error) {
	if opts.Geo == nil || opts.Agents == nil || opts.Visitors == nil || opts.Opens == nil || opts.Aggregator == nil {
		return nil, errors.New("ingest: every step is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Pipeline{opts: opts}, nil
}

// Event counts a page view or custom event. An error means bad input:
// nothing was counted.
func (p *Pipeline) Event(ev Event, c Client) (Outcome, error) {
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

	// Consent is decided before anything is derived from the request.
	sig := ev.Consent
	sig.GPC, sig.DNT = c.GPC, c.DNT
	decision := consent.Decide(ev.Site.Mode, sig)

	agent := p.opts.Agents.Classify(c.UserAgent)
	hour := aggregator.HourOf(p.opts.Now())
	if reason := filterReason(agent, c); reason != "" {
		p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, []aggregator.WebUpdate{
			{Dimension: aggregator.DimFiltered, Value: reason, Counts: aggregator.WebCounts{Hits: 1}},
		})
		return Filtered, nil
	}

	consentRow := aggregator.WebUpdate{Dimension: aggregator.DimConsent, Value: decision.State.String(),
		Counts: aggregator.WebCounts{Hits: 1}}
	if !decision.Counters {
		p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, []aggregator.WebUpdate{consentRow})
		return ConsentOnly, nil
	}

	var vis uniques.Visitor // zero: never a first visit
	if decision.Uniques {
		vis = p.opts.Visitors.Visitor(ev.Site.Domain, c.IP, c.UserAgent)
	}
	count := func(dim, value string) aggregator.WebUpdate {
		u := aggregator.WebUpdate{Dimension: dim, Value: value, Counts: aggregator.WebCounts{Hits: 1}}
		if name == PageviewName {
			u.Counts.Pageviews = 1
		}
		if p.opts.Visitors.FirstToday(vis, dim, value) {
			u.Counts.Visitors = 1
		}
		return u
	}

	if name != PageviewName {
		p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, []aggregator.WebUpdate{consentRow, count(aggregator.DimEvent, name)})
		return Counted, nil
	}
	region := p.opts.Geo.Lookup(c.IP)
	updates := [...]aggregator.WebUpdate{
		consentRow,
		count(aggregator.DimTotal, ""),
		count(aggregator.DimPath, page.Path),
		count(aggregator.DimSource, referrer.Source(page, ev.Referrer, ev.Site.OwnsHost)),
		count(aggregator.DimUTMSource, page.UTMSource),
		count(aggregator.DimUTMMedium, page.UTMMedium),
		count(aggregator.DimUTMCampaign, page.UTMCampaign),
		count(aggregator.DimCountry, region.Country),
		count(aggregator.DimRegion, region.Subdivision),
		count(aggregator.DimDevice, agent.Device),
		count(aggregator.DimBrowser, agent.Browser),
		count(aggregator.DimOS, agent.OS),
	}
	p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, updates[:])
	return Counted, nil
}

// filterReason says why a hit is not traffic, or "".
func filterReason(a useragent.Agent, c Client) string {
	if a.Bot != "" {
		return a.Bot
	}
	if c.Prefetch {
		return "prefetch"
	}
	return ""
}

func cleanName(n string) (string, error) {
	n = strings.TrimSpace(n)
	if n == "" || len(n) > MaxNameLen || !utf8.ValidString(n) {
		return "", ErrBadName
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "", ErrBadName
		}
	}
	return n, nil
}

// Open is one fetch of a signed email-open pixel.
type Open struct {
	Site      *sites.Site
	Campaign  string
	Recipient string // opaque token from the email system; may be empty
	// RecipientConsent is the consent bit the email system signed into the
	// URL; in strict mode only such recipients are de-duplicated.
	RecipientConsent bool
}

// EmailOpen counts an open of a pixel whose signature the caller verified.
func (p *Pipeline) EmailOpen(o Open, c Client) (Outcome, error) {
	if !ValidCampaign(o.Campaign) {
		return "", ErrBadCampaign
	}
	hour := aggregator.HourOf(p.opts.Now())
	mc, known := mailclient.Classify(c.UserAgent)
	if !known {
		agent := p.opts.Agents.Classify(c.UserAgent)
		mc = mailclient.Client{Name: agent.Browser, Machine: agent.Bot != ""}
		if !mc.Machine {
			mc.Name = p.webmail.name(agent.Browser)
		}
	}
	if mc.Machine {
		p.opts.Aggregator.AddEmail(o.Site.Domain, o.Campaign, hour, []aggregator.EmailUpdate{
			{Dimension: aggregator.DimTotal, Counts: aggregator.EmailCounts{MachineOpens: 1}},
			{Dimension: aggregator.DimClient, Value: mc.Name, Counts: aggregator.EmailCounts{MachineOpens: 1}},
		})
		return Filtered, nil
	}

	// De-duplicate only where the site's mode allows recognising the
	// recipient: always in anonymous mode (nothing per recipient is
	// stored), in strict mode only with the signed consent bit.
	first := false
	if o.Site.Mode == consent.ModeAnonymous || o.RecipientConsent {
		first = p.opts.Opens.FirstOpen(o.Site.Domain, o.Campaign, o.Recipient)
	}
	open := aggregator.EmailCounts{Opens: 1}
	if first {
		open.UniqueOpens = 1
	}
	region := p.opts.Geo.Lookup(c.IP)
	p.opts.Aggregator.AddEmail(o.Site.Domain, o.Campaign, hour, []aggregator.EmailUpdate{
		{Dimension: aggregator.DimTotal, Counts: open},
		{Dimension: aggregator.DimClient, Value: mc.Name, Counts: open},
		{Dimension: aggregator.DimCountry, Value: region.Country, Counts: open},
		{Dimension: aggregator.DimRegion, Value: region.Subdivision, Counts: open},
	})
	return Counted, nil
}

// EmailSent records that a campaign sent n emails.
func (p *Pipeline) EmailSent(site *sites.Site, campaign string, n int64) error {
	if !ValidCampaign(campaign) {
		return ErrBadCampaign
	}
	if n < 1 || n > 100_000_000 {
		return ErrBadCount
	}
	p.opts.Aggregator.AddEmail(site.Domain, campaign, aggregator.HourOf(p.opts.Now()), []aggregator.EmailUpdate{
		{Dimension: aggregator.DimTotal, Counts: aggregator.EmailCounts{Sent: n}},
	})
	return nil
}

// ValidCampaign reports whether id is a usable campaign identifier: short
// and URL-safe, so it can sit in a pixel path unescaped.
func ValidCampaign(id string) bool {
	if id == "" || len(id) > 100 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// webmailNames holds "Webmail (<browser>)" for each browser family seen, so
// that an open does not build the string every time. Browser families are
// a small fixed set (the classifier's table), so the map stays small; it is
// copied on write and read without a lock.
type webmailNames struct {
	mu    sync.Mutex
	names atomic.Pointer[map[string]string]
}

func (w *webmailNames) name(browser string) string {
	if m := w.names.Load(); m != nil {
		if n, ok := (*m)[browser]; ok {
			return n
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.names.Load()
	next := make(map[string]string, 1)
	if old != nil {
		if n, ok := (*old)[browser]; ok {
			return n
		}
		maps.Copy(next, *old)
	}
	n := "Webmail (" + browser + ")"
	next[browser] = n
	w.names.Store(&next)
	return n
}
