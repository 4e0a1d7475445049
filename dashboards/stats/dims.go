package stats

import "tally/aggregator"

// Dimension describes one breakdown the dashboards offer.
type Dimension struct {
	Name  string // as stored, e.g. "utm_source"
	Title string // for people, e.g. "UTM source"
	// HitsOnly dimensions count requests, not visitors (custom events,
	// consent states, filtered hits): they are ranked and k-folded by hits.
	HitsOnly bool
}

// WebDimensions are the web breakdowns in dashboard order.
var WebDimensions = []Dimension{
	{Name: aggregator.DimPath, Title: "Top pages"},
	{Name: aggregator.DimSource, Title: "Sources"},
	{Name: aggregator.DimUTMSource, Title: "UTM source"},
	{Name: aggregator.DimUTMMedium, Title: "UTM medium"},
	{Name: aggregator.DimUTMCampaign, Title: "UTM campaign"},
	{Name: aggregator.DimCountry, Title: "Countries"},
	{Name: aggregator.DimRegion, Title: "Regions"},
	{Name: aggregator.DimDevice, Title: "Devices"},
	{Name: aggregator.DimBrowser, Title: "Browsers"},
	{Name: aggregator.DimOS, Title: "Operating systems"},
	{Name: aggregator.DimEvent, Title: "Events", HitsOnly: true},
	{Name: aggregator.DimConsent, Title: "Consent", HitsOnly: true},
	{Name: aggregator.DimFiltered, Title: "Filtered traffic", HitsOnly: true},
}

// EmailDimensions are the campaign breakdowns.
var EmailDimensions = []Dimension{
	{Name: aggregator.DimCountry, Title: "Countries"},
	{Name: aggregator.DimRegion, Title: "Regions"},
	{Name: aggregator.DimClient, Title: "Email clients"},
}

// LookupWeb finds a web dimension by name.
func LookupWeb(name string) (Dimension, bool) { return lookup(WebDimensions, name) }

// LookupEmail finds an email dimension by name.
func LookupEmail(name string) (Dimension, bool) { return lookup(EmailDimensions, name) }

func lookup(ds []Dimension, name string) (Dimension, bool) {
	for _, d := range ds {
		if d.Name == name {
			return d, true
		}
	}
	return Dimension{}, false
}
