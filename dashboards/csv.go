package dashboards

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tally/counter"
	"tally/dashboards/regions"
	"tally/dashboards/stats"
)

// cell guards a value that a spreadsheet would run as a formula (UTM
// values and referrers are chosen by strangers).
func cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func name(dim, value string) string {
	switch dim {
	case "country":
		return regions.Country(value)
	case "region":
		return regions.Subdivision(value)
	case "language":
		return languageNames[value]
	case counter.DimLink:
		_, target := counter.SplitLink(value)
		return target
	case counter.DimMachine:
		return machineLabel(value)
	}
	return ""
}

func sendCSV(c *fiber.Ctx, filename string, rows [][]string) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	w := csv.NewWriter(c.Response().BodyWriter())
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("cannot write CSV: %w", err)
	}
	return nil
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

func webCSV(b stats.Breakdown) [][]string {
	rows := [][]string{{"value", "name", "visitors", "pageviews", "hits", "visits", "exits"}}
	add := func(r stats.Row) {
		rows = append(rows, []string{cell(r.Value), cell(name(b.Dimension, r.Value)), i64(r.Visitors), i64(r.Pageviews), i64(r.Hits),
			i64(r.Visits), i64(r.Exits)})
	}
	for _, r := range b.Rows {
		add(r)
	}
	if b.Other != nil {
		add(*b.Other)
	}
	return rows
}

func emailCSV(b stats.EmailBreakdown) [][]string {
	rows := [][]string{{"value", "name", "sent", "opens", "unique_opens", "machine_opens", "clicks", "unique_clicks", "machine_clicks", "implied_opens"}}
	add := func(r stats.EmailRow) {
		rows = append(rows, []string{cell(r.Value), cell(name(b.Dimension, r.Value)), i64(r.Sent), i64(r.Opens), i64(r.UniqueOpens), i64(r.MachineOpens),
			i64(r.Clicks), i64(r.UniqueClicks), i64(r.MachineClicks), i64(r.ImpliedOpens)})
	}
	for _, r := range b.Rows {
		add(r)
	}
	if b.Other != nil {
		add(*b.Other)
	}
	return rows
}

func (d *Dashboards) siteCSV(c *fiber.Ctx) error {
	s := scopeOf(c)
	p, err := d.period(c, s.Site)
	if err != nil {
		return d.renderError(c, fiber.StatusBadRequest, err.Error())
	}
	f, err := d.figuresFor(c)
	if err != nil {
		return d.failed(c, err)
	}
	dim := strings.Clone(c.Params("dim"))
	if handled, err := d.conversionSiteCSV(c, f, p, dim); handled {
		return err
	}
	by := strings.Clone(c.Query("by"))
	b, err := f.BreakdownBy(c.UserContext(), dim, p.Range, stats.MaxLimit, strings.Clone(c.Query("filter")), by)
	if err != nil {
		return d.failed(c, err) // an unknown by= is a 400 there
	}
	if by != "" {
		dim += "-by-" + by
	}
	return sendCSV(c, fmt.Sprintf("%s-%s-%s-%s.csv", s.Site.Domain, dim, p.From, p.To), webCSV(b))
}

func (d *Dashboards) campaignCSV(c *fiber.Ctx) error {
	s := scopeOf(c)
	campaign := campaignName(c)
	f, err := d.figuresFor(c)
	if err != nil {
		return d.failed(c, err)
	}
	cp, ok, err := f.Campaign(c.UserContext(), campaign, d.since())
	if err != nil {
		return d.failed(c, err)
	}
	if !ok {
		return d.renderError(c, fiber.StatusNotFound, "This campaign has no sends or opens yet.")
	}
	dim := strings.Clone(c.Params("dim"))
	file := fmt.Sprintf("%s-%s-%s.csv", s.Site.Domain, safeFile(campaign), dim)
	switch dim {
	case "summary": // the totals and rates
		return sendCSV(c, file, summaryCSV(cp.Campaign))
	case "hours": // the first hours after sending
		pts, err := f.CampaignFirstHours(c.UserContext(), cp)
		if err != nil {
			return d.failed(c, err)
		}
		return sendCSV(c, file, hoursCSV(firstHours(pts, cp.Sent)))
	}
	b, err := f.CampaignBreakdown(c.UserContext(), cp, dim, d.since(), stats.MaxLimit)
	if err != nil {
		return d.failed(c, err)
	}
	return sendCSV(c, file, emailCSV(b))
}

func safeFile(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
