package dashboards

import (
	"html/template"
	"strconv"
	"strings"
	"time"

	"tally/counter"
	"tally/dashboards/share"
	"tally/dashboards/stats"
	"tally/sites"
)

// View models: what each template reads, built from stats answers by the
// handlers in pages.go. The card and chart builders below are shared by the
// web and the email pages, so both fold, rank and label the same way.

type siteSummary struct {
	Site   *sites.Site
	Totals stats.Totals
	K      int
}

type homeView struct {
	page
	Summaries []siteSummary
}

// rowView is one row of a breakdown card. C is the row's counts
// (stats.WebCounts or stats.EmailCounts).
type rowView[C any] struct {
	Label, Value string
	Counts       C
	Metrics      stats.Metrics // web rows: the rates derived from Counts
	Measure      int64         // what the card ranks by
	Share        float64       // of the card's largest row, for the bar behind it
	Pct          float64       // of the card's total, for hit-only cards
}

type cardView[C any] struct {
	stats.Dimension
	Rows   []rowView[C]
	Other  *rowView[C]
	Folded int64
	CSV    string
	// ID is the card's element id: the dimension's name, or the ranking
	// for the entry and exit pages (which are path cards).
	ID string
	// By is the ranking besides the default: "visits" or "exits".
	By string
	// Unit is what the ranking column counts, in its header.
	Unit string
	// Columns besides the ranking one.
	Views, Visits, Engagement, ExitRate bool
	// Note is shown under the table: an estimate says so, a Share column
	// what it is a share of where not obvious.
	Note string
}

// newCard builds a card from a breakdown's rows and its folded "(other)"
// row; split reads a row's value and counts, measure what the card ranks by.
func newCard[R, C any](dim stats.Dimension, rows []R, other *R, folded int64, csv string,
	split func(R) (string, C), measure func(C) int64) cardView[C] {
	cv := cardView[C]{Dimension: dim, Folded: folded, CSV: csv}
	var top, total int64 = 1, 0
	for _, r := range rows {
		_, c := split(r)
		top = maxInt(top, measure(c))
		total += measure(c)
	}
	if other != nil {
		_, c := split(*other)
		total += measure(c)
	}
	row := func(r R) rowView[C] {
		v, c := split(r)
		m := measure(c)
		rv := rowView[C]{Label: valueLabel(dim.Name, v), Value: v, Counts: c, Measure: m,
			Share: float64(m) / float64(top) * 100}
		if total > 0 {
			rv.Pct = float64(m) / float64(total)
		}
		return rv
	}
	for _, r := range rows {
		cv.Rows = append(cv.Rows, row(r))
	}
	if other != nil {
		o := row(*other)
		o.Label = stats.OtherValue
		cv.Other = &o
	}
	return cv
}

func webCard(dim stats.Dimension, b stats.Breakdown, csv string) cardView[stats.WebCounts] {
	return webCardBy(dim, b, csv, "")
}

// webCardBy is a web card ranked by visitors (hits for hit-only
// dimensions), or by visits or exits.
func webCardBy(dim stats.Dimension, b stats.Breakdown, csv, by string) cardView[stats.WebCounts] {
	cv := newCard(dim, b.Rows, b.Other, b.Folded, csv,
		func(r stats.Row) (string, stats.WebCounts) { return r.Value, r.WebCounts },
		func(c stats.WebCounts) int64 {
			switch {
			case by == byVisits:
				return c.Visits
			case by == byExits:
				return c.Exits
			case dim.HitsOnly:
				return c.Hits
			}
			return c.Visitors
		})
	cv.ID, cv.By, cv.Unit, cv.Views = dim.Name, by, "Visitors", !dim.HitsOnly
	switch {
	case by == byVisits && dim.Name == counter.DimPath:
		cv.ID, cv.Title, cv.Unit, cv.Views = "entry", "Entry pages", "Entries", false
		cv.Note = "A page view whose referrer is empty or another site's starts a visit here."
	case by == byExits:
		cv.ID, cv.Title, cv.Unit, cv.ExitRate = "exit", "Exit pages", "Exits", true
		cv.Note = "Estimate: a page view counts as an exit until a later page view names it as its referrer, or tally's tracker says the visitor went on."
	case by == byVisits:
		cv.ID, cv.Unit = dim.Name+"-visits", "Visits"
	case dim.Name == counter.DimPath:
		cv.Engagement = true
	case dim.Name == counter.DimSource:
		cv.Visits = true
	case dim.HitsOnly:
		cv.Unit = "Hits"
	}
	for i := range cv.Rows {
		cv.Rows[i].Metrics = cv.Rows[i].Counts.Metrics(false)
	}
	if cv.Other != nil {
		cv.Other.Metrics = cv.Other.Counts.Metrics(false)
	}
	return cv
}

func emailCard(dim stats.Dimension, b stats.EmailBreakdown, csv string) cardView[stats.EmailCounts] {
	return newCard(dim, b.Rows, b.Other, b.Folded, csv,
		func(r stats.EmailRow) (string, stats.EmailCounts) { return r.Value, r.EmailCounts },
		func(c stats.EmailCounts) int64 { return stats.EmailMeasure(dim.Name, c) })
}

// seriesPoint is one bucket of a chart: Bar is drawn as a bar, Line as the
// line over it. A Withheld bucket (below k) is drawn empty and says so.
type seriesPoint struct {
	Start     time.Time
	Bar, Line int64
	Withheld  bool
}

// seriesChart labels each bucket for its interval and draws the chart;
// barName and lineName name the two measures in the legend and, in lower
// case, in each bucket's hover text.
func seriesChart(pts []seriesPoint, iv stats.Interval, barName, lineName string) template.HTML {
	out := make([]chartPoint, len(pts))
	for i, p := range pts {
		label, title := p.Start.Format("Jan 2"), p.Start.Format("Mon Jan 2")
		if iv == stats.Hourly {
			label, title = p.Start.Format("15:04"), p.Start.Format("Mon Jan 2 15:04")
		}
		if p.Withheld {
			out[i] = chartPoint{Label: label, Title: title + ": below the privacy threshold"}
			continue
		}
		out[i] = chartPoint{Label: label,
			Title: title + ": " + formatInt(p.Bar) + " " + strings.ToLower(barName) + ", " + formatInt(p.Line) + " " + strings.ToLower(lineName),
			Bar:   p.Bar, Line: p.Line}
	}
	return svgChart(out, barName, lineName)
}

type presetLink struct {
	Key, Label, URL string
	Active          bool
}

type siteView struct {
	page
	Period  period
	Presets []presetLink
	Totals  stats.Totals
	// Cur and Prev are the rates of the totals (nil where unknown).
	Cur, Prev stats.Metrics
	// VisitsShown: the visit count of both periods passed k.
	VisitsShown bool
	Heat        heatView
	Chart       template.HTML
	Cards       []cardView[stats.WebCounts]
	Empty       bool
	Snippet     string
	Pixel       string
	Zone        string
	K           int
	Unit        string // what k counts: "visitors", or "hits" in anonymous mode
	Exact       bool   // false: the figures carry the shared views' noise
	// RangeQuery is the page's range as a query string, for the forms
	// that come back to it.
	RangeQuery template.URL
	// Goals is the goals card; nil when the site has none (and the viewer
	// cannot add any).
	Goals *goalsView
}

// heatView is the hour-of-day by weekday view: a row per weekday, Monday
// first, 24 cells each.
type heatView struct {
	Rows []heatRow
	Max  int64
}

type heatRow struct {
	Day   string
	Cells []heatCell
}

type heatCell struct {
	Hour     int
	Views    int64
	Visits   int64
	Level    float64 // 0 to 1: the cell's page views against the busiest cell
	Withheld bool
	Title    string
}

// newHeat lays the released cells out; k is for the withheld cells' text.
func newHeat(cells []stats.AccessCell, k int) heatView {
	var h heatView
	for _, c := range cells {
		if !c.BelowK {
			h.Max = max(h.Max, c.Pageviews)
		}
	}
	for i, c := range cells {
		if i%24 == 0 {
			h.Rows = append(h.Rows, heatRow{Day: stats.Weekdays[i/24]})
		}
		cell := heatCell{Hour: c.Hour, Views: c.Pageviews, Visits: c.Visits, Withheld: c.BelowK}
		when := stats.Weekdays[i/24] + " " + strconv.Itoa(c.Hour) + ":00"
		switch {
		case c.BelowK:
			cell.Title = when + ": fewer than " + strconv.Itoa(k) + ", not shown"
		default:
			cell.Title = when + ": " + formatInt(c.Pageviews) + " page views"
			if c.Withheld&stats.FieldVisits == 0 {
				cell.Title += ", " + formatInt(c.Visits) + " visits"
			}
			if h.Max > 0 {
				cell.Level = float64(c.Pageviews) / float64(h.Max)
			}
		}
		h.Rows[len(h.Rows)-1].Cells = append(h.Rows[len(h.Rows)-1].Cells, cell)
	}
	return h
}

type emailView struct {
	page
	Campaigns []stats.Campaign
	Since     time.Time
	K         int
	Exact     bool
}

type campaignView struct {
	page
	Campaign stats.Campaign
	Chart    template.HTML
	Cards    []cardView[stats.EmailCounts]
	K        int
	Exact    bool
	Zone     string
	// Rates is the chart of the first hours after sending (empty when no
	// send was reported), Hours their number so far.
	Rates template.HTML
	Hours int
	// Machines explains every machine class, with its counts when shown.
	Machines []classView
	// HoursCSV and SummaryCSV download the chart's points and the totals.
	HoursCSV, SummaryCSV string
}

type shareView struct {
	page
	Links  []share.Link
	NewURL string
	Now    time.Time
}
