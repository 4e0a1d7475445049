package counter

import (
	"math"
	"time"
)

// Dimensions of the web counters. Each hit adds to one row per dimension,
// never to a cross product, so no row narrows down to one person.
const (
	DimTotal       = "total" // value ""
	DimPath        = "path"
	DimSource      = "source"
	DimChannel     = "channel" // the source's group: collector/channel
	DimUTMSource   = "utm_source"
	DimUTMMedium   = "utm_medium"
	DimUTMCampaign = "utm_campaign"
	DimCountry     = "country"
	DimRegion      = "region" // ISO 3166-2 subdivision
	DimDevice      = "device"
	DimBrowser     = "browser"
	DimOS          = "os"
	DimEvent       = "event"    // custom event name
	DimConsent     = "consent"  // granted / denied / unknown
	DimFiltered    = "filtered" // reason a hit was not counted as traffic
	DimClient      = "client"   // email client family (email counters only)
	DimLanguage    = "language" // ISO 639-1 primary subtag of Accept-Language
	DimLink        = "link"     // a click link: see LinkValue (email counters only)
	DimMachine     = "machine"  // class of machine opens and clicks: see machine.go (email counters only)

	// Conversions (issue 13). Values that join parts use a TAB between
	// them (ValueSep): names, prop names and values never hold control
	// characters, so the split is unambiguous.
	DimProp         = "prop"          // <event>\t<prop>\t<value>, event "pageview" for page views
	DimGoal         = "goal"          // goal name: Hits are conversions
	DimGoalProp     = "goal_prop"     // <goal>\t<prop>\t<value>: props of the hits that converted
	DimRevenue      = "revenue"       // <goal>\t<ISO 4217 code>: Revenue in micro-units
	DimGoalSource   = "goal_source"   // <goal>\t<source> of the visit
	DimGoalCampaign = "goal_campaign" // <goal>\t<utm_campaign> of the visit
	DimGoalEntry    = "goal_entry"    // <goal>\t<entry path> of the visit
	DimFunnel       = "funnel"        // <funnel>\t<k>: visitors who reached step k
	DimUniques      = "uniques"       // on / off: whether the hit's daily visitor hash was computed
)

// Values of the uniques dimension.
const (
	UniquesOn  = "on"
	UniquesOff = "off"
)

// ValueSep joins the parts of a conversion dimension's value.
const ValueSep = "\t"

// WebKey identifies one web counter row.
type WebKey struct {
	Site      string
	Hour      int64 // unix seconds, truncated to the hour (UTC)
	Dimension string
	Value     string
}

// WebCounts are the additive web counters. Signed, so that a later delta may
// correct an earlier one (a later page view takes back an exit assumed for
// the page it came from).
//
// The visit and engagement counters need no identifier: collector/visits
// says how each is derived from what one request or one page knows.
type WebCounts struct {
	Hits      int64 // requests counted in this row (page views and events)
	Pageviews int64
	Visitors  int64 // first hit of a visitor today with this value

	Visits        int64 // page views that start a visit (empty or external referrer)
	TrackedVisits int64 // of those, visits whose entry page ran our tracker: bounces are known for them
	Bounces       int64 // tracked visits of one page view
	Exits         int64 // page views after which the visitor left the site (path rows)
	EngagedMS     int64 // engaged time reported by the pages, milliseconds (path and total rows)
	EngagedViews  int64 // page views from scripts that report engagement (path and total rows)
	ScrollSum     int64 // scroll depth in percent, summed over ScrollViews (path and total rows)
	ScrollViews   int64 // page views (our tracker) or reports (others) ScrollSum is summed over

	// Revenue is the amount of the conversions counted in a revenue row
	// (goal and currency in its value), in micro-units of that currency
	// (1 EUR = 1,000,000): an integer, so sums are exact.
	Revenue int64
}

// Add adds d to c.
func (c *WebCounts) Add(d WebCounts) {
	c.Hits += d.Hits
	c.Pageviews += d.Pageviews
	c.Visitors += d.Visitors
	c.Visits += d.Visits
	c.TrackedVisits += d.TrackedVisits
	c.Bounces += d.Bounces
	c.Exits += d.Exits
	c.EngagedMS += d.EngagedMS
	c.EngagedViews += d.EngagedViews
	c.ScrollSum += d.ScrollSum
	c.ScrollViews += d.ScrollViews
	c.Revenue = addRevenue(c.Revenue, d.Revenue)
}

// EmailKey identifies one email counter row.
type EmailKey struct {
	Site      string
	Campaign  string
	Hour      int64
	Dimension string
	Value     string
}

// EmailCounts are the additive email counters.
type EmailCounts struct {
	Sent         int64
	Opens        int64 // opens by people (machine opens excluded), implied opens included
	UniqueOpens  int64
	MachineOpens int64 // privacy proxies and scanners that fetch every image
	// Clicks are clicks by people on signed links; UniqueClicks the first
	// of each recipient (of the campaign; of the link in link rows).
	Clicks       int64
	UniqueClicks int64
	// MachineClicks are link scanners' clicks, counted apart.
	MachineClicks int64
	// ImpliedOpens are the unique opens known only from a click: the
	// recipient clicked without the pixel being seen (images blocked).
	// They are also in Opens and UniqueOpens.
	ImpliedOpens int64
}

// Add adds d to c.
func (c *EmailCounts) Add(d EmailCounts) {
	c.Sent += d.Sent
	c.Opens += d.Opens
	c.UniqueOpens += d.UniqueOpens
	c.MachineOpens += d.MachineOpens
	c.Clicks += d.Clicks
	c.UniqueClicks += d.UniqueClicks
	c.MachineClicks += d.MachineClicks
	c.ImpliedOpens += d.ImpliedOpens
}

// HourOf truncates t to its UTC hour, as used in keys.
func HourOf(t time.Time) int64 {
	u := t.Unix()
	return u - u%3600
}

// Overflow is the value under which a dimension's new values are counted
// once the site has its quota of distinct values for the hour (see
// aggregator.Options.MaxValuesPerHour): counted, never dropped.
const Overflow = "(other)"

// FreeText reports whether a web dimension's values come from what a
// client sends (a path, a referrer, a UTM tag, an event name), so that one
// client could make up any number of them (the conversion dimensions
// that carry a prop value, a source, a campaign or an entry path too).
// The others take their values from closed sets: classifier tables, ISO
// codes, consent states, bot names, the site's declared goals and funnels
// (goal, funnel, and revenue: a goal and an ISO 4217 code; folding a
// revenue row into "(other)" would add up currencies); so do all email
// dimensions (mail client, country, region).
func FreeText(dimension string) bool {
	switch dimension {
	case DimPath, DimSource, DimUTMSource, DimUTMMedium, DimUTMCampaign, DimEvent,
		DimProp, DimGoalProp, DimGoalSource, DimGoalCampaign, DimGoalEntry:
		return true
	}
	return false
}

// addRevenue adds two revenue amounts, saturating: one event may carry up
// to 10^15 micro-units (ingest.MaxRevenue), so a few thousand forged
// events could otherwise wrap a row's total to a negative number. Rows
// merged by ClickHouse can still wrap; the dashboards read a negative
// row as saturated (stats.Conversions).
func addRevenue(a, b int64) int64 {
	switch s := a + b; {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	default:
		return s
	}
}
