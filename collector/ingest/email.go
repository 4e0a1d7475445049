package ingest

import (
	"errors"

	"tally/aggregator"
	"tally/collector/mailclient"
	"tally/counter"
	"tally/sites"
)

// Errors for email input the pipeline refuses; handlers answer them with
// a 4xx.
var (
	ErrBadCampaign = errors.New("campaign must be 1 to 100 characters of letters, digits, '.', '_' or '-'")
	ErrBadCount    = errors.New("count must be between 1 and 100000000")
)

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
		mc = mailclient.Client{Name: agent.Browser, Machine: agent.Machine()}
		if !mc.Machine {
			mc.Name = p.webmail.name(agent.Browser)
		}
	}
	// Strict mode without the signed consent bit: the open is counted in
	// the campaign's total and nothing else. No region is looked up, no
	// mail client is recorded and the recipient is not recognised: the
	// client is classified only to tell a privacy proxy's fetch (a
	// machine open) from a person's, which the total keeps apart.
	if o.Site.Mode == sites.ModeStrict && !o.RecipientConsent {
		total := counter.EmailCounts{Opens: 1}
		if mc.Machine {
			total = counter.EmailCounts{MachineOpens: 1}
		}
		p.opts.Aggregator.AddEmail(o.Site.Domain, o.Campaign, hour, []aggregator.EmailUpdate{
			{Dimension: counter.DimTotal, Counts: total},
		})
		if mc.Machine {
			return Filtered, nil
		}
		return ConsentOnly, nil
	}
	if mc.Machine {
		class := mc.Class // see counter.MachineClasses
		if class == "" {
			class = counter.MachineScannerAgent // a bot the general classifier knows
		}
		p.opts.Aggregator.AddEmail(o.Site.Domain, o.Campaign, hour, []aggregator.EmailUpdate{
			{Dimension: counter.DimTotal, Counts: counter.EmailCounts{MachineOpens: 1}},
			{Dimension: counter.DimClient, Value: mc.Name, Counts: counter.EmailCounts{MachineOpens: 1}},
			{Dimension: counter.DimMachine, Value: class, Counts: counter.EmailCounts{MachineOpens: 1}},
		})
		return Filtered, nil
	}

	// De-duplicate only where the site's mode allows recognising the
	// recipient: always in anonymous and optout mode (nothing per recipient is
	// stored), in strict mode only with the signed consent bit (checked
	// above).
	// Each site is held to its share of the open keys (bounds.go).
	first, ok := p.opts.Opens.FirstOpenUnder(o.Site.Domain, o.Campaign, o.Recipient, p.openShare)
	if !ok {
		return "", p.errOpens
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
