// Package ingest is the collector's pipeline: it takes one validated hit,
// runs the steps in the order the privacy promise requires (consent first,
// then bot filtering, region, uniques) and hands aggregate deltas to the
// aggregator. The client address and user agent stop here: nothing that
// leaves this package carries them.
package ingest

import (
	"errors"
	"maps"
	"math"
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
	"tally/collector/uniques"
	"tally/collector/useragent"
	"tally/counter"
	"tally/sites"
)

// Client is what the pipeline may know of the requester, for this request
// only. Its strings may point into the HTTP server's reused buffers: the
// pipeline reads them during the call and keeps none of them.
type Client struct {
	IP        netip.Addr
	UserAgent string
	GPC, DNT  bool
	// Prefetch: the browser fetched the page speculatively (Sec-Purpose).
	Prefetch bool
}

// Event is a page view or custom event, as parsed from the API or a pixel.
// Name and URL must belong to the caller (not to a reused request buffer):
// counter rows keep parts of them as keys. Referrer and Consent.TCF are
// only read during the call.
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

// Default memory bounds (see Options).
const (
	// DefaultMaxPendingRows bounds the counter rows held in memory: a row
	// costs 150 to 250 bytes with its key strings, so about 250 MB.
	DefaultMaxPendingRows = 1_000_000
	// DefaultMaxVisitorPairs bounds the day's (visitor, value) pairs: 10 to
	// 15 bytes each, at most 240 MB.
	DefaultMaxVisitorPairs = 16_000_000
	// DefaultMaxOpenKeys bounds the remembered email opens: 15 to 23 bytes
	// each, at most 190 MB.
	DefaultMaxOpenKeys = 8_000_000
)

// Options wire the steps.
type Options struct {
	Geo        *geo.Locator
	Agents     *useragent.Classifier
	Visitors   *uniques.Visitors
	Opens      *uniques.Opens
	Aggregator *aggregator.Aggregator
	Now        func() time.Time // time.Now when nil

	// MaxPendingRows sheds every hit while the aggregator holds this many
	// counter rows in memory (0: DefaultMaxPendingRows; negative: no bound).
	MaxPendingRows int
	// PendingRows reads the aggregator's row count; Aggregator.Pending when
	// nil. It is called once per hit.
	PendingRows func() int
	// MaxVisitorPairs sheds hits that would compute daily uniques once the
	// day has this many (visitor, value) pairs (0: DefaultMaxVisitorPairs;
	// negative: no bound). Hits without uniques are still counted.
	MaxVisitorPairs int
	// MaxOpenKeys sheds email opens that would be de-duplicated once this
	// many opens are remembered (0: DefaultMaxOpenKeys; negative: no bound).
	MaxOpenKeys int
	// RetryAfter is the wait suggested when counter rows or open keys are
	// over their bound (default 10s, the default flush interval). Shed
	// visitor pairs are told to retry at midnight UTC, when the day's
	// memory is released.
	RetryAfter time.Duration
}

// Pipeline runs hits through the steps. Safe for concurrent use.
type Pipeline struct {
	opts    Options
	webmail webmailNames
	// Made once: shedding must not allocate under the load that causes it.
	errRows, errOpens error
}

// New checks the options and fills defaults.
func New(opts Options) (*Pipeline, error) {
	if opts.Geo == nil || opts.Agents == nil || opts.Visitors == nil || opts.Opens == nil || opts.Aggregator == nil {
		return nil, errors.New("ingest: every step is required")
	}
	if opts.RetryAfter < 0 {
		return nil, errors.New("ingest: negative retry-after")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PendingRows == nil {
		opts.PendingRows = opts.Aggregator.Pending
	}
	opts.MaxPendingRows = bound(opts.MaxPendingRows, DefaultMaxPendingRows)
	opts.MaxVisitorPairs = bound(opts.MaxVisitorPairs, DefaultMaxVisitorPairs)
	opts.MaxOpenKeys = bound(opts.MaxOpenKeys, DefaultMaxOpenKeys)
	if opts.RetryAfter == 0 {
		opts.RetryAfter = 10 * time.Second
	}
	return &Pipeline{
		opts:     opts,
		errRows:  &OverloadError{Reason: ShedCounterRows, RetryAfter: opts.RetryAfter},
		errOpens: &OverloadError{Reason: ShedOpenKeys, RetryAfter: opts.RetryAfter},
	}, nil
}

// bound turns a configured bound into a comparable one: 0 is the default,
// a negative value no bound.
func bound(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return math.MaxInt
	}
	return n
}

// Reasons for shedding, as metric labels.
const (
	ShedCounterRows  = "counter_rows"
	ShedVisitorPairs = "visitor_pairs"
	ShedOpenKeys     = "open_keys"
)

// ErrOverloaded is what every *OverloadError is (errors.Is): a memory
// bound was reached and nothing of the hit was counted. The API answers
// 503 with Retry-After; pixels still answer the image.
var ErrOverloaded = errors.New("over the memory bound")

// OverloadError says which bound shed a hit and when to try again.
type OverloadError struct {
	Reason     string // ShedCounterRows, ShedVisitorPairs or ShedOpenKeys
	RetryAfter time.Duration
}

func (e *OverloadError) Error() string {
	return "collector is over its memory bound (" + e.Reason + "): nothing was counted, retry later"
}

// Is makes errors.Is(err, ErrOverloaded) true.
func (e *OverloadError) Is(target error) bool { return target == ErrOverloaded }

// overRows is checked first on every hit, before any work: the counter
// rows bound every kind of hit.
func (p *Pipeline) overRows() error {
	if p.opts.PendingRows() >= p.opts.MaxPendingRows {
		return p.errRows
	}
	return nil
}

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

	// Consent is decided before anything is derived from the request.
	sig := ev.Consent
	sig.GPC, sig.DNT = c.GPC, c.DNT
	decision := consent.Decide(ev.Site.Mode, sig)

	agent := p.opts.Agents.Classify(c.UserAgent)
	hour := counter.HourOf(p.opts.Now())
	if reason := filterReason(agent, c); reason != "" {
		p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, []aggregator.WebUpdate{
			{Dimension: counter.DimFiltered, Value: reason, Counts: counter.WebCounts{Hits: 1}},
		})
		return Filtered, nil
	}

	consentRow := aggregator.WebUpdate{Dimension: counter.DimConsent, Value: decision.State.String(),
		Counts: counter.WebCounts{Hits: 1}}
	if !decision.Counters {
		p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, []aggregator.WebUpdate{consentRow})
		return ConsentOnly, nil
	}

	var vis uniques.Visitor // zero: never a first visit
	if decision.Uniques {
		if p.opts.Visitors.Len() >= p.opts.MaxVisitorPairs {
			// Counting without the uniques would undercount visitors
			// silently: shed the whole hit instead.
			now := p.opts.Now().UTC()
			midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
			return "", &OverloadError{Reason: ShedVisitorPairs, RetryAfter: midnight.Sub(now)}
		}
		vis = p.opts.Visitors.Visitor(ev.Site.Domain, c.IP, c.UserAgent)
	}
	// One pair per dimension counted: a custom event counts its name, a
	// page view every dimension of the page and the visitor.
	var pairs [11]uniques.Pair
	n := 0
	if name != PageviewName {
		pairs[0] = uniques.Pair{Dimension: counter.DimEvent, Value: name}
		n = 1
	} else {
		region := p.opts.Geo.Lookup(c.IP)
		pairs = [11]uniques.Pair{
			{Dimension: counter.DimTotal},
			{Dimension: counter.DimPath, Value: page.Path},
			{Dimension: counter.DimSource, Value: referrer.Source(page, ev.Referrer, ev.Site.OwnsHost)},
			{Dimension: counter.DimUTMSource, Value: page.UTMSource},
			{Dimension: counter.DimUTMMedium, Value: page.UTMMedium},
			{Dimension: counter.DimUTMCampaign, Value: page.UTMCampaign},
			{Dimension: counter.DimCountry, Value: region.Country},
			{Dimension: counter.DimRegion, Value: region.Subdivision},
			{Dimension: counter.DimDevice, Value: agent.Device},
			{Dimension: counter.DimBrowser, Value: agent.Browser},
			{Dimension: counter.DimOS, Value: agent.OS},
		}
		n = len(pairs)
	}
	p.opts.Visitors.FirstTodayAll(vis, pairs[:n]) // all false for the zero visitor

	var updates [1 + len(pairs)]aggregator.WebUpdate
	updates[0] = consentRow
	for i, pr := range pairs[:n] {
		u := aggregator.WebUpdate{Dimension: pr.Dimension, Value: pr.Value, Counts: counter.WebCounts{Hits: 1}}
		if name == PageviewName {
			u.Counts.Pageviews = 1
		}
		if pr.First {
			u.Counts.Visitors = 1
		}
		updates[1+i] = u
	}
	p.opts.Aggregator.AddWeb(ev.Site.Domain, hour, updates[:1+n])
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

// Open is one fetch of a signed email-open pixel. Campaign must belong to
// the caller (counter rows keep it); Recipient is only hashed during the
// call.
type Open struct {
	Site      *sites.Site
	Campaign  string
	Recipient string // opaque token from the email system; may be empty
	// RecipientConsent is the consent bit the email system signed into the
	// URL; in strict mode only such recipients are de-duplicated.
	RecipientConsent bool
}

// EmailOpen counts an open of a pixel whose signature the caller verified.
// An error means nothing was counted.
func (p *Pipeline) EmailOpen(o Open, c Client) (Outcome, error) {
	if err := p.overRows(); err != nil {
		return "", err
	}
	if !ValidCampaign(o.Campaign) {
		return "", ErrBadCampaign
	}
	hour := counter.HourOf(p.opts.Now())
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
			{Dimension: counter.DimTotal, Counts: counter.EmailCounts{MachineOpens: 1}},
			{Dimension: counter.DimClient, Value: mc.Name, Counts: counter.EmailCounts{MachineOpens: 1}},
		})
		return Filtered, nil
	}

	// De-duplicate only where the site's mode allows recognising the
	// recipient: always in anonymous mode (nothing per recipient is
	// stored), in strict mode only with the signed consent bit.
	first := false
	if o.Recipient != "" && (o.Site.Mode == sites.ModeAnonymous || o.RecipientConsent) {
		if p.opts.Opens.Len() >= p.opts.MaxOpenKeys {
			return "", p.errOpens
		}
		first = p.opts.Opens.FirstOpen(o.Site.Domain, o.Campaign, o.Recipient)
	}
	open := counter.EmailCounts{Opens: 1}
	if first {
		open.UniqueOpens = 1
	}
	region := p.opts.Geo.Lookup(c.IP)
	p.opts.Aggregator.AddEmail(o.Site.Domain, o.Campaign, hour, []aggregator.EmailUpdate{
		{Dimension: counter.DimTotal, Counts: open},
		{Dimension: counter.DimClient, Value: mc.Name, Counts: open},
		{Dimension: counter.DimCountry, Value: region.Country, Counts: open},
		{Dimension: counter.DimRegion, Value: region.Subdivision, Counts: open},
	})
	return Counted, nil
}

// EmailSent records that a campaign sent n emails.
func (p *Pipeline) EmailSent(site *sites.Site, campaign string, n int64) error {
	if err := p.overRows(); err != nil {
		return err
	}
	if !ValidCampaign(campaign) {
		return ErrBadCampaign
	}
	if n < 1 || n > 100_000_000 {
		return ErrBadCount
	}
	p.opts.Aggregator.AddEmail(site.Domain, campaign, counter.HourOf(p.opts.Now()), []aggregator.EmailUpdate{
		{Dimension: counter.DimTotal, Counts: counter.EmailCounts{Sent: n}},
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
