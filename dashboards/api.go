package dashboards

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/dashboards/stats"
)

type apiError struct {
	Error string `json:"error"`
}

type apiRange struct {
	From     string    `json:"from"` // inclusive local days
	To       string    `json:"to"`
	Start    time.Time `json:"start"` // the UTC hours queried, [start, end)
	End      time.Time `json:"end"`
	Timezone string    `json:"timezone"`
}

func (d *Dashboards) apiFailed(c *fiber.Ctx, err error) error {
	var ie *stats.InputError
	if errors.As(err, &ie) {
		return c.Status(fiber.StatusBadRequest).JSON(apiError{Error: ie.Error()})
	}
	d.opts.Logger.Error("stats API query failed", "route", c.Route().Path, "err", err)
	return c.Status(fiber.StatusInternalServerError).JSON(apiError{Error: "internal error"})
}

// apiPeriod parses the range; ok is false when the answer was sent.
func (d *Dashboards) apiPeriod(c *fiber.Ctx) (period, apiRange, bool) {
	s := scopeOf(c)
	p, err := d.period(c, s.Site)
	if err != nil {
		c.Status(fiber.StatusBadRequest).JSON(apiError{Error: err.Error()})
		return period{}, apiRange{}, false
	}
	return p, apiRange{From: p.From, To: p.To, Start: p.Range.Start, End: p.Range.End, Timezone: s.Site.Location.String()}, true
}

func limit(c *fiber.Ctx, def int) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > stats.MaxLimit {
		return 0, errors.New("limit must be a number between 1 and " + strconv.Itoa(stats.MaxLimit))
	}
	return n, nil
}

type ratios struct {
	Visitors  *float64 `json:"visitors"` // null when the previous period had none
	Pageviews *float64 `json:"pageviews"`
	Visits    *float64 `json:"visits"`
	// The rates' relative changes: null when either period has none.
	BounceRate    *float64 `json:"bounce_rate"`
	VisitDuration *float64 `json:"visit_duration"`
	ViewsPerVisit *float64 `json:"views_per_visit"`
}

func ratio(cur, prev int64) *float64 {
	if prev == 0 {
		return nil
	}
	r := float64(cur-prev) / float64(prev)
	return &r
}

// rateChange is the relative change of a rate; nil when either is unknown
// or the previous one is 0.
func rateChange(cur, prev *float64) *float64 {
	if cur == nil || prev == nil || *prev == 0 {
		return nil
	}
	r := (*cur - *prev) / *prev
	return &r
}

// changes compares two released totals.
func changes(t stats.Totals) ratios {
	if t.Current.BelowK || t.Previous.BelowK {
		return ratios{}
	}
	cm, pm := t.Current.Metrics(true), t.Previous.Metrics(true)
	ch := ratios{Visitors: ratio(t.Current.Visitors, t.Previous.Visitors), Pageviews: ratio(t.Current.Pageviews, t.Previous.Pageviews),
		BounceRate: rateChange(cm.BounceRate, pm.BounceRate), VisitDuration: rateChange(cm.VisitDuration, pm.VisitDuration),
		ViewsPerVisit: rateChange(cm.ViewsPerVisit, pm.ViewsPerVisit)}
	if (t.Current.Withheld|t.Previous.Withheld)&stats.FieldVisits == 0 {
		ch.Visits = ratio(t.Current.Visits, t.Previous.Visits)
	}
	return ch
}

// metricNotes tell API clients how the visit figures are made, and which
// are estimates (collector/visits).
var metricNotes = fiber.Map{
	"visits":          "page views whose referrer is empty or another site's; no identifier links hits",
	"bounce_rate":     "bounces per visit, over the visits whose entry page ran tally's tracker (it reports whether the visitor went on to another page); null without it",
	"visit_duration":  "engaged time (page visible and focused) per visit, in seconds, as the pages report it",
	"views_per_visit": "page views per visit; reads high where pixels count page views without a referrer",
	"time_on_page":    "engaged seconds per page view of a script that reports engagement",
	"scroll_depth":    "mean deepest scroll in percent; an estimate for Plausible's tracker, whose repeated reports each count",
	"exits":           "estimate: each page view is assumed to be an exit until a later page view names it as referrer (or tally's tracker says otherwise)",
}

// withMetrics is a breakdown row or total with its derived rates.
type withMetrics struct {
	stats.WebCounts
	Metrics stats.Metrics `json:"metrics"`
}

// exactness tells API clients how to read the figures.
func exactness(f figures) fiber.Map {
	if f.Exact() {
		return fiber.Map{"k": f.K(), "exact": true}
	}
	return fiber.Map{"k": f.K(), "exact": false,
		"note": "counts below k are withheld (below_k); the others carry a fixed random offset so that comparing answers cannot reveal a withheld count"}
}

func (d *Dashboards) apiTotals(c *fiber.Ctx) error {
	s := scopeOf(c)
	p, ar, ok := d.apiPeriod(c)
	if !ok {
		return nil
	}
	f, err := d.figuresFor(c)
	if err != nil {
		return d.apiFailed(c, err)
	}
	t, err := f.Totals(c.UserContext(), p.Range)
	if err != nil {
		return d.apiFailed(c, err)
	}
	return c.JSON(fiber.Map{
		"site": s.Site.Domain, "range": ar,
		"current":        withMetrics{t.Current, t.Current.Metrics(true)},
		"previous":       withMetrics{t.Previous, t.Previous.Metrics(true)},
		"change":         changes(t),
		"visitors_note":  "visitors is the sum of daily unique visitors",
		"notes":          metricNotes,
		"previous_range": fiber.Map{"start": p.Range.Previous().Start, "end": p.Range.Previous().End},
		"privacy":        exactness(f),
	})
}

func (d *Dashboards) apiSeries(c *fiber.Ctx) error {
	s := scopeOf(c)
	p, ar, ok := d.apiPeriod(c)
	if !ok {
		return nil
	}
	iv := p.Interval
	if v := c.Query("interval"); v != "" {
		iv = stats.Interval(strings.Clone(v))
	}
	f, err := d.figuresFor(c)
	if err != nil {
		return d.apiFailed(c, err)
	}
	pts, err := f.Series(c.UserContext(), p.Range, iv, strings.Clone(c.Query("dimension")), strings.Clone(c.Query("value")))
	if err != nil {
		return d.apiFailed(c, err)
	}
	return c.JSON(fiber.Map{"site": s.Site.Domain, "range": ar, "interval": iv, "points": pts, "privacy": exactness(f)})
}

func (d *Dashboards) apiBreakdown(c *fiber.Ctx) error {
	if dim := c.Params("dim"); dim != "" {
		if _, ok := stats.LookupConversion(dim); ok {
			return d.apiGoalBreakdown(c, strings.Clone(dim))
		}
	}
	s := scopeOf(c)
	p, ar, ok := d.apiPeriod(c)
	if !ok {
		return nil
	}
	n, err := limit(c, 10)
	if err != nil {
		return c.Status(fiber.StatusBadRequest).JSON(apiError{Error: err.Error()})
	}
	f, err := d.figuresFor(c)
	if err != nil {
		return d.apiFailed(c, err)
	}
	by := strings.Clone(c.Query("by"))
	b, err := f.BreakdownBy(c.UserContext(), strings.Clone(c.Params("dim")), p.Range, n, strings.Clone(c.Query("filter")), by)
	if err != nil {
		return d.apiFailed(c, err)
	}
	if c.Query("format") == "csv" {
		return sendCSV(c, s.Site.Domain+"-"+b.Dimension+"-"+p.From+"-"+p.To+".csv", webCSV(b))
	}
	type named struct {
		Value string `json:"value"`
		Name  string `json:"name,omitempty"`
		withMetrics
	}
	rows := make([]named, len(b.Rows))
	for i, r := range b.Rows {
		rows[i] = named{Value: r.Value, Name: name(b.Dimension, r.Value), withMetrics: withMetrics{r.WebCounts, r.Metrics(false)}}
	}
	var other *named
	if b.Other != nil {
		other = &named{Value: b.Other.Value, withMetrics: withMetrics{b.Other.WebCounts, b.Other.Metrics(false)}}
	}
	out := fiber.Map{"site": s.Site.Domain, "range": ar, "dimension": b.Dimension, "rows": rows,
		"other": other, "k": b.K, "privacy": exactness(f)}
	if by != "" {
		out["by"] = by
	}
	if b.Folded > 0 {
		out["folded"] = b.Folded
	}
	return c.JSON(out)
}

// apiAccessTimes is the hour-of-day by weekday view: 168 cells, Monday
// 00:00 first, in the site's zone.
func (d *Dashboards) apiAccessTimes(c *fiber.Ctx) error {
	s := scopeOf(c)
	p, ar, ok := d.apiPeriod(c)
	if !ok {
		return nil
	}
	f, err := d.figuresFor(c)
	if err != nil {
		return d.apiFailed(c, err)
	}
	cells, err := f.AccessTimes(c.UserContext(), p.Range)
	if err != nil {
		return d.apiFailed(c, err)
	}
	return c.JSON(fiber.Map{"site": s.Site.Domain, "range": ar, "cells": cells, "privacy": exactness(f)})
}

func (d *Dashboards) apiCampaigns(c *fiber.Ctx) error {
	s := scopeOf(c)
	n, err := limit(c, 100)
	if err != nil {
		return c.Status(fiber.StatusBadRequest).JSON(apiError{Error: err.Error()})
	}
	f, err := d.figuresFor(c)
	if err != nil {
		return d.apiFailed(c, err)
	}
	cs, err := f.Campaigns(c.UserContext(), d.since(), n)
	if err != nil {
		return d.apiFailed(c, err)
	}
	return c.JSON(fiber.Map{"site": s.Site.Domain, "campaigns": cs, "privacy": exactness(f)})
}

func (d *Dashboards) apiCampaign(c *fiber.Ctx) error {
	s := scopeOf(c)
	name := campaignName(c)
	f, err := d.figuresFor(c)
	if err != nil {
		return d.apiFailed(c, err)
	}
	cp, ok, err := f.Campaign(c.UserContext(), name, d.since())
	if err != nil {
		return d.apiFailed(c, err)
	}
	if !ok {
		return c.Status(fiber.StatusNotFound).JSON(apiError{Error: "unknown campaign"})
	}
	iv := cp.Interval()
	if v := c.Query("interval"); v != "" {
		iv = stats.Interval(strings.Clone(v))
	}
	pts, err := f.CampaignSeries(c.UserContext(), cp, iv)
	if err != nil {
		return d.apiFailed(c, err)
	}
	early, err := f.CampaignFirstHours(c.UserContext(), cp)
	if err != nil {
		return d.apiFailed(c, err)
	}
	hours := firstHours(early, cp.Sent)
	switch c.Query("format") {
	case "csv":
		return sendCSV(c, s.Site.Domain+"-"+safeFile(name)+"-summary.csv", summaryCSV(cp.Campaign))
	case "hours.csv":
		return sendCSV(c, s.Site.Domain+"-"+safeFile(name)+"-hours.csv", hoursCSV(hours))
	}
	return c.JSON(fiber.Map{"site": s.Site.Domain, "campaign": cp.Campaign, "interval": iv, "points": pts,
		"first_hours": hours, "privacy": exactness(f)})
}

func (d *Dashboards) apiCampaignBreakdown(c *fiber.Ctx) error {
	s := scopeOf(c)
	name := campaignName(c)
	n, err := limit(c, 10)
	if err != nil {
		return c.Status(fiber.StatusBadRequest).JSON(apiError{Error: err.Error()})
	}
	f, err := d.figuresFor(c)
	if err != nil {
		return d.apiFailed(c, err)
	}
	cp, ok, err := f.Campaign(c.UserContext(), name, d.since())
	if err != nil {
		return d.apiFailed(c, err)
	}
	if !ok {
		return c.Status(fiber.StatusNotFound).JSON(apiError{Error: "unknown campaign"})
	}
	b, err := f.CampaignBreakdown(c.UserContext(), cp, strings.Clone(c.Params("dim")), d.since(), n)
	if err != nil {
		return d.apiFailed(c, err)
	}
	if c.Query("format") == "csv" {
		return sendCSV(c, s.Site.Domain+"-"+safeFile(name)+"-"+b.Dimension+".csv", emailCSV(b))
	}
	return c.JSON(b)
}
