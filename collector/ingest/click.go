package ingest

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"tally/aggregator"
	"tally/collector/mailclient"
	"tally/counter"
	"tally/scrub"
	"tally/sites"
)

// ErrBadLabel refuses a click whose link label is not a usable name.
var ErrBadLabel = errors.New("link label must be 1 to 100 characters of letters, digits, '.', '_' or '-'")

// Held is the outcome of a click that looked human and is held for the
// scanner check (see burst.go): it is counted, as a person's or a
// machine's, when the window ends.
const Held Outcome = "held"

// Click is one follow of a signed link whose signature the caller
// verified. Campaign and Label must belong to the caller (counter rows
// keep them); Destination and Recipient are only read during the call.
type Click struct {
	Site     *sites.Site
	Campaign string
	Label    string
	// Destination is the signed destination URL: only its host and path
	// are counted (scrubbed), never its query or fragment.
	Destination      string
	Recipient        string // opaque token from the email system; may be empty
	RecipientConsent bool
	// Links is the message's signed link count (0: not told), Honeypot the
	// signed honeypot bit.
	Links    int
	Honeypot bool
	// Head: the request was a HEAD, which asks where a link leads without
	// following it.
	Head bool
}

// DefaultClickBurstWindow is how long a human-looking click is held for
// the scanner check: scanners follow a message's links within a second or
// two of each other at delivery; a person following three links of one
// message within five seconds is rare (and is then counted as a scanner).
const DefaultClickBurstWindow = 5 * time.Second

// DefaultMaxHeldClicks bounds the clicks held for the scanner check: a
// held click is about 200 bytes, so about 20 MB.
const DefaultMaxHeldClicks = 100_000

// ShedHeldClicks and ShedClickKeys are the reasons of clicks shed over
// the held clicks and the remembered first clicks.
const (
	ShedHeldClicks = "held_clicks"
	ShedClickKeys  = "click_keys"
)

// EmailClick counts a follow of a signed link. Machines (HEAD, prefetch,
// scanners' agents, the honeypot) are counted at once, by class; a click
// that looks human is held for the burst window when its recipient can be
// recognised (anonymous mode, or the signed consent bit), and counted
// when the window ends, as a person's or, if its recipient's links were
// followed together, as a scanner's. An error means nothing was counted.
func (p *Pipeline) EmailClick(k Click, c Client) (Outcome, error) {
	if err := p.overRows(); err != nil {
		return "", err
	}
	if !ValidCampaign(k.Campaign) {
		return "", ErrBadCampaign
	}
	if !ValidCampaign(k.Label) { // the same alphabet and bound
		return "", ErrBadLabel
	}
	hour := counter.HourOf(p.opts.Now())
	target := p.linkTarget(k.Site, k.Destination)
	link := counter.LinkValue(k.Label, target)
	// The recipient is recognised only where the site's mode allows it.
	known := k.Recipient != "" && (k.Site.Mode != sites.ModeStrict || k.RecipientConsent)
	var group uint64
	if known {
		group = p.opts.Clicks.Group(k.Site.Domain, k.Campaign, k.Recipient)
	}

	class, client := p.clickClass(k, c)
	if class != "" {
		m := counter.EmailCounts{MachineClicks: 1}
		p.opts.Aggregator.AddEmail(k.Site.Domain, k.Campaign, hour, []aggregator.EmailUpdate{
			{Dimension: counter.DimTotal, Counts: m},
			{Dimension: counter.DimMachine, Value: class, Counts: m},
			{Dimension: counter.DimLink, Value: link, Counts: m},
		})
		if group != 0 {
			p.clicks.machine(group, k.Links, k.Label, class)
		}
		return Filtered, nil
	}

	if !known {
		// Strict mode without the signed consent bit counts the click in
		// the campaign's total and its link, and nothing that could single
		// the recipient out: no region, no client, no first-click memory.
		h := counter.EmailCounts{Clicks: 1}
		if k.Recipient != "" {
			p.opts.Aggregator.AddEmail(k.Site.Domain, k.Campaign, hour, []aggregator.EmailUpdate{
				{Dimension: counter.DimTotal, Counts: h},
				{Dimension: counter.DimLink, Value: link, Counts: h},
			})
			return ConsentOnly, nil
		}
		// Without a token there is nobody to recognise: region and client
		// are counted as for opens without a token.
		region := p.opts.Geo.Lookup(c.IP)
		p.commitClicks([]heldClick{{site: k.Site, campaign: k.Campaign, label: k.Label, target: target,
			hour: hour, client: client, region: region}}, "")
		return Counted, nil
	}
	if p.opts.Clicks.Len() >= p.opts.MaxOpenKeys || p.opts.Opens.Len() >= p.opts.MaxOpenKeys {
		return "", p.errClickKeys
	}
	if p.clicks.len() >= p.opts.MaxHeldClicks {
		return "", p.errHeldClicks
	}
	held := heldClick{site: k.Site, campaign: k.Campaign, label: k.Label, target: target, hour: hour, client: client,
		region: p.opts.Geo.Lookup(c.IP),
		keys:   p.opts.Clicks.Keys(k.Site.Domain, k.Campaign, k.Label, k.Recipient),
		open:   p.opts.Opens.Key(k.Site.Domain, k.Campaign, k.Recipient)}
	if p.clicks.hold(group, k.Links, held) {
		return Held, nil
	}
	p.commitClicks([]heldClick{held}, "") // closing: no more holding
	return Counted, nil
}

// clickClass names the machine behind a click ("" for a person) and, for
// a person, the client: a mail client's own name where the agent is one
// (an in-app browser), else the browser that followed the link.
func (p *Pipeline) clickClass(k Click, c Client) (class, client string) {
	switch {
	case k.Honeypot:
		return counter.MachineHoneypot, ""
	case k.Head:
		return counter.MachineHead, ""
	case c.Prefetch:
		return counter.MachinePrefetch, ""
	}
	if mc, ok := mailclient.Classify(c.UserAgent); ok {
		if mc.Machine {
			return mc.Class, ""
		}
		return "", mc.Name
	}
	agent := p.opts.Agents.Classify(c.UserAgent)
	if agent.Bot != "" {
		return counter.MachineScannerAgent, ""
	}
	if agent.Browser == "" {
		return "", "Other"
	}
	return "", agent.Browser
}

// commitClicks counts clicks, as a person's (class "") or as the machine
// class's. A person's click adds its first-click uniques and, when no open
// of its recipient was seen (images blocked), the open it implies.
func (p *Pipeline) commitClicks(items []heldClick, class string) {
	for _, h := range items {
		link := counter.LinkValue(h.label, h.target)
		if class != "" {
			m := counter.EmailCounts{MachineClicks: 1}
			p.opts.Aggregator.AddEmail(h.site.Domain, h.campaign, h.hour, []aggregator.EmailUpdate{
				{Dimension: counter.DimTotal, Counts: m},
				{Dimension: counter.DimMachine, Value: class, Counts: m},
				{Dimension: counter.DimLink, Value: link, Counts: m},
			})
			continue
		}
		campaignFirst, linkFirst := p.opts.Clicks.First(h.site.Domain, h.keys)
		n := counter.EmailCounts{Clicks: 1, UniqueClicks: b2i(campaignFirst)}
		if p.opts.Opens.FirstKey(h.site.Domain, h.open) {
			n.Opens, n.UniqueOpens, n.ImpliedOpens = 1, 1, 1
		}
		p.opts.Aggregator.AddEmail(h.site.Domain, h.campaign, h.hour, []aggregator.EmailUpdate{
			{Dimension: counter.DimTotal, Counts: n},
			{Dimension: counter.DimLink, Value: link, Counts: counter.EmailCounts{Clicks: 1, UniqueClicks: b2i(linkFirst)}},
			{Dimension: counter.DimClient, Value: h.client, Counts: n},
			{Dimension: counter.DimCountry, Value: h.region.Country, Counts: n},
			{Dimension: counter.DimRegion, Value: h.region.Subdivision, Counts: n},
		})
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// linkTarget is what a link row keeps of its destination: the host, lower
// case and without port ("ip" for an address: no IP literal is kept), and
// the path, scrubbed like a page path (the site's own rules where the host
// is the site's). Never the query or the fragment. The result is a new
// string: counter rows and held clicks keep it.
func (p *Pipeline) linkTarget(s *sites.Site, dest string) string {
	u, err := url.Parse(dest)
	if err != nil || u.Host == "" {
		return "(invalid)"
	}
	host := strings.ToLower(u.Hostname())
	if _, err := netip.ParseAddr(host); err == nil {
		host = scrub.IP
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	var rules *scrub.Rules
	if s.OwnsHost(host) {
		rules = s.PathRules
	}
	return strings.Clone(host + scrub.Path(path, rules))
}

// Close commits the clicks held for the scanner check, as decided so far,
// and holds none after. Call it after the HTTP server stopped and before
// the aggregator's last flush.
func (p *Pipeline) Close() { p.clicks.close() }
