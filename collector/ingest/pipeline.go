package ingest

import (
	"errors"
	"net/netip"
	"tally/goals"
	"time"

	"tally/aggregator"
	"tally/collector/geo"
	"tally/collector/journey"
	"tally/collector/netclass"
	"tally/collector/referrer"
	"tally/collector/spam"
	"tally/collector/uniques"
	"tally/collector/useragent"
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
	// Language is the ISO 639-1 code of the visitor's preferred language
	// (language.Primary of Accept-Language), or "": a constant, nothing
	// else of the header.
	Language string
	// AcceptLanguage: the request had an Accept-Language header. Its
	// presence is all the request-shape layer reads; the value is not
	// kept.
	AcceptLanguage bool
}

// Outcome says what happened to a hit, for metrics and tests.
type Outcome string

const (
	Counted     Outcome = "counted"      // counters recorded
	ConsentOnly Outcome = "consent_only" // strict mode without consent: only the consent counter, or an email open's total
	Filtered    Outcome = "filtered"     // a bot or prefetch: only the filtered counter (or the consent counter, where counters are not allowed)
	Unsigned    Outcome = "unsigned"     // email pixel without a valid signature: nothing
	Expired     Outcome = "expired"      // email pixel signed with an expiry that has passed: nothing
)

// Options wire the steps.
type Options struct {
	Geo        *geo.Locator
	Agents     *useragent.Classifier
	Visitors   *uniques.Visitors
	Opens      *uniques.Opens
	Aggregator *aggregator.Aggregator
	Now        func() time.Time // time.Now when nil

	// DataCentres filters hits from cloud and hosting networks; nil turns
	// the layer off. The operator reloads it (SIGHUP) while hits run.
	DataCentres *netclass.Classifier
	// Spam filters hits whose referrer is a known spam host; nil turns
	// the layer off.
	Spam *spam.List

	// MaxPendingRows sheds every hit while the aggregator holds this many
	// counter rows in memory (0: DefaultMaxPendingRows; negative: no bound).
	MaxPendingRows int
	// PendingRows reads the aggregator's row count; Aggregator.Pending when
	// nil. It is called once per hit.
	PendingRows func() int
	// MaxVisitorPairs bounds the day's (visitor, value) pairs (0:
	// DefaultMaxVisitorPairs; negative: no bound). Each of the Sites sites
	// has an equal share; a site's hits that would compute daily uniques
	// are shed once its share is full. Hits without uniques, and other
	// sites' hits, are still counted.
	MaxVisitorPairs int
	// MaxOpenKeys bounds the remembered email opens (0: DefaultMaxOpenKeys;
	// negative: no bound), shared the same way: a site's opens that would
	// be de-duplicated are shed once its share is full.
	MaxOpenKeys int
	// Journeys is the day's per-visitor attribution and funnel state
	// (collector/journey); made when nil.
	Journeys *journey.Journeys
	// MaxJourneys bounds the visitors Journeys holds a day (0:
	// DefaultMaxJourneys; negative: no bound), shared by the Sites sites
	// like the visitor pairs: a visitor new once its site's share is full
	// gets no state (its conversions count as "(unknown)" attribution and
	// move no funnel). The hit is counted all the same.
	MaxJourneys int
	// Sites is how many sites share the memory bounds (the registry's
	// size); 0 counts as 1.
	Sites int
	// Clicks remembers first clicks of email links; made with the opens'
	// window when nil.
	Clicks *uniques.Clicks
	// ClickBurstWindow is how long a human-looking click is held for the
	// scanner check (0: DefaultClickBurstWindow).
	ClickBurstWindow time.Duration
	// MaxHeldClicks sheds clicks that would be held once this many are
	// (0: DefaultMaxHeldClicks; negative: no bound). The remembered first
	// clicks share MaxOpenKeys' bound.
	MaxHeldClicks int
	// Goals are the sites' goals, funnels and allow-listed props (nil:
	// none; every hit is counted as before).
	Goals *goals.Registry
	// RetryAfter is the wait suggested when counter rows or open keys are
	// over their bound (0: DefaultRetryAfter). Shed
	// visitor pairs are told to retry at midnight UTC, when the day's
	// memory is released.
	RetryAfter time.Duration
}

// Pipeline runs hits through the steps. Safe for concurrent use.
type Pipeline struct {
	opts    Options
	sources referrer.Sources // referrer hosts to source names, cached
	webmail webmailNames     // see webmail.go
	clicks  *burst           // clicks held for the scanner check (click.go)
	// Made once: shedding must not allocate under the load that causes it
	// (see bounds.go).
	errRows, errOpens           error
	errClickKeys, errHeldClicks error
	// Each site's share of MaxVisitorPairs and MaxOpenKeys; -1: no bound.
	pairShare, openShare int
	// Each site's share of MaxJourneys; -1: no bound.
	journeyShare int
}

// New checks the options and fills defaults.
func New(opts Options) (*Pipeline, error) {
	if opts.Geo == nil || opts.Agents == nil || opts.Visitors == nil || opts.Opens == nil || opts.Aggregator == nil {
		return nil, errors.New("ingest: every step is required")
	}
	if opts.RetryAfter < 0 || opts.Sites < 0 || opts.ClickBurstWindow < 0 {
		return nil, errors.New("ingest: negative retry-after, site count or click burst window")
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
		opts.RetryAfter = DefaultRetryAfter
	}
	if opts.Clicks == nil {
		opts.Clicks = uniques.NewClicks(opts.Opens.Window(), opts.Now)
	}
	if opts.ClickBurstWindow == 0 {
		opts.ClickBurstWindow = DefaultClickBurstWindow
	}
	opts.MaxHeldClicks = bound(opts.MaxHeldClicks, DefaultMaxHeldClicks)
	opts.MaxJourneys = bound(opts.MaxJourneys, DefaultMaxJourneys)
	if opts.Journeys == nil {
		opts.Journeys = journey.New(opts.Now)
	}
	p := &Pipeline{
		opts:          opts,
		errRows:       &OverloadError{Reason: ShedCounterRows, RetryAfter: opts.RetryAfter},
		errOpens:      &OverloadError{Reason: ShedOpenKeys, RetryAfter: opts.RetryAfter},
		errClickKeys:  &OverloadError{Reason: ShedClickKeys, RetryAfter: opts.RetryAfter},
		errHeldClicks: &OverloadError{Reason: ShedHeldClicks, RetryAfter: opts.ClickBurstWindow},
		pairShare:     share(opts.MaxVisitorPairs, opts.Sites),
		openShare:     share(opts.MaxOpenKeys, opts.Sites),
		journeyShare:  share(opts.MaxJourneys, opts.Sites),
	}
	p.clicks = newBurst(opts.ClickBurstWindow, opts.MaxHeldClicks, p.commitClicks)
	return p, nil
}
