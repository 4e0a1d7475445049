package stats

import "tally/counter"

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
	{Name: counter.DimPath, Title: "Top pages"},
	{Name: counter.DimSource, Title: "Sources"},
	{Name: counter.DimChannel, Title: "Channels"},
	{Name: counter.DimUTMSource, Title: "UTM source"},
	{Name: counter.DimUTMMedium, Title: "UTM medium"},
	{Name: counter.DimUTMCampaign, Title: "UTM campaign"},
	{Name: counter.DimCountry, Title: "Countries"},
	{Name: counter.DimRegion, Title: "Regions"},
	{Name: counter.DimDevice, Title: "Devices"},
	{Name: counter.DimBrowser, Title: "Browsers"},
	{Name: counter.DimOS, Title: "Operating systems"},
	{Name: counter.DimLanguage, Title: "Languages"},
	{Name: counter.DimEvent, Title: "Events", HitsOnly: true},
	{Name: counter.DimConsent, Title: "Consent", HitsOnly: true},
	{Name: counter.DimFiltered, Title: "Filtered traffic", HitsOnly: true},
}

// EmailDimensions are the campaign breakdowns.
var EmailDimensions = []Dimension{
	{Name: counter.DimCountry, Title: "Countries"},
	{Name: counter.DimRegion, Title: "Regions"},
	{Name: counter.DimClient, Title: "Email clients"},
	{Name: counter.DimLink, Title: "Top links"},
	{Name: counter.DimMachine, Title: "Machine activity"},
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
