package ingest

import (
	"tally/collector/channel"
	"tally/collector/referrer"
	"tally/collector/uniques"
	"tally/collector/useragent"
	"tally/counter"
)

// pageDimensions is the number of dimension rows a page view counts in.
const pageDimensions = 13

// pageDims fills the dimension rows of a page view of page, arrived as
// arr (referrer.Sources.Arrive), by the client c whose agent is
// classified. A page view and the engagement report that takes back its
// bounce must name the same rows, so both are made here.
func (p *Pipeline) pageDims(pairs *[pageDimensions]uniques.Pair, page referrer.Page, arr referrer.Arrival, agent useragent.Agent, c Client) {
	region := p.opts.Geo.Lookup(c.IP)
	*pairs = [pageDimensions]uniques.Pair{
		{Dimension: counter.DimTotal},
		{Dimension: counter.DimPath, Value: page.Path},
		{Dimension: counter.DimSource, Value: arr.Source},
		{Dimension: counter.DimChannel, Value: string(channel.Of(arr.Source, page.UTMMedium))},
		{Dimension: counter.DimUTMSource, Value: page.UTMSource},
		{Dimension: counter.DimUTMMedium, Value: page.UTMMedium},
		{Dimension: counter.DimUTMCampaign, Value: page.UTMCampaign},
		{Dimension: counter.DimCountry, Value: region.Country},
		{Dimension: counter.DimRegion, Value: region.Subdivision},
		{Dimension: counter.DimDevice, Value: agent.Device},
		{Dimension: counter.DimBrowser, Value: agent.Browser},
		{Dimension: counter.DimOS, Value: agent.OS},
		{Dimension: counter.DimLanguage, Value: c.Language},
	}
}
