package dashboards

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tally/dashboards/stats"
	"tally/goals"
)

// The handlers of the conversions: the goals card's data for the site page,
// the admin's goal edits, the JSON API and the CSV downloads.

// goalsView is the goals card of the site page.
type goalsView struct {
	goalsReport
	Goals   []goalCard
	Funnels []funnelView
	// Edit: the admin's own view with a goal store (share links and API
	// tokens never get the forms).
	Edit                 bool
	GoalsCSV, FunnelsCSV string
	K                    int
}

type goalCard struct {
	goalReport
	Anchor string // the element id of the goal's breakdowns
	Cards  []cardView[stats.WebCounts]
}

type funnelView struct {
	funnelReport
	Chart template.HTML
}

// goalSet is the site's declared goals and funnels (nil: none, or no
// registry).
func (d *Dashboards) goalSet(site string) *goals.Set {
	if d.opts.Goals == nil {
		return nil
	}
	return d.opts.Goals.For(site)
}

// goalsCard builds the goals card, or nil when the site has no goals and
// the viewer cannot add any.
func (d *Dashboards) goalsCard(ctx context.Context, f figures, s *scope, p period, totals stats.Totals) (*goalsView, error) {
	set := d.goalSet(s.Site.Domain)
	edit := s.Admin && d.opts.Goals != nil && d.opts.Goals.Stored()
	if set == nil && !edit {
		return nil, nil
	}
	cv, err := f.Conversions(ctx, p.Range, set)
	if err != nil {
		return nil, err
	}
	rep := newGoalsReport(d.opts.Goals, s.Site.Domain, set, cv, totals)
	visible := map[string]bool{}
	for _, g := range rep.Goals {
		visible[g.Name] = !g.Current.BelowK
	}
	bds := make([]map[string]stats.Breakdown, len(goalDims))
	var fs []func() error
	for i, dim := range goalDims {
		fs = append(fs, func() (err error) { bds[i], err = f.GoalBreakdowns(ctx, dim, p.Range, visible); return })
	}
	if len(visible) > 0 {
		if err := parallel(fs...); err != nil {
			return nil, err
		}
	}
	rq := rangeQuery(p)
	v := &goalsView{goalsReport: rep, Edit: edit, K: f.K(),
		GoalsCSV: s.Base + "/csv/goals?" + rq, FunnelsCSV: s.Base + "/csv/funnels?" + rq}
	for _, g := range rep.Goals {
		gc := goalCard{goalReport: g, Anchor: "goal-" + safeFile(g.Name)}
		if visible[g.Name] {
			for i, dim := range goalDims {
				b, ok := bds[i][g.Name]
				if !ok {
					b = stats.Breakdown{Dimension: dim, Rows: []stats.Row{}}
				}
				b = trimPrefix(b, g.Name+stats.Sep)
				dd, _ := stats.LookupConversion(dim)
				cv := webCard(dd, b, s.Base+"/csv/"+dim+"?goal="+url.QueryEscape(g.Name)+"&"+rq)
				cv.ID = dim + "-" + safeFile(g.Name)
				for j := range cv.Rows {
					cv.Rows[j].Label = conversionLabel(dim, cv.Rows[j].Value)
				}
				gc.Cards = append(gc.Cards, cv)
			}
		}
		v.Goals = append(v.Goals, gc)
	}
	for _, fr := range rep.Funnels {
		v.Funnels = append(v.Funnels, funnelView{funnelReport: fr, Chart: funnelChart(fr, f.K())})
	}
	return v, nil
}

// propCards are the property cards of the site page: one per event whose
// count is released (events is the page's released event breakdown; page
// views count when the totals are shown), listing its allow-listed
// property values folded at k. None when the site keeps no property.
func (d *Dashboards) propCards(ctx context.Context, f figures, s *scope, p period, totals stats.Totals, events stats.Breakdown) ([]cardView[stats.WebCounts], error) {
	set := d.goalSet(s.Site.Domain)
	if set == nil || len(set.Props()) == 0 {
		return nil, nil
	}
	shown := map[string]bool{goals.PageviewName: !totals.Current.BelowK && totals.Current.Pageviews > 0}
	for _, r := range events.Rows {
		shown[r.Value] = true
	}
	all, err := f.GoalBreakdowns(ctx, stats.DimProp, p.Range, shown)
	if err != nil {
		return nil, err
	}
	order := []string{goals.PageviewName}
	for _, r := range events.Rows {
		order = append(order, r.Value)
	}
	dim, _ := stats.LookupConversion(stats.DimProp)
	var cards []cardView[stats.WebCounts]
	for _, ev := range order {
		b, ok := all[ev]
		if !ok || (len(b.Rows) == 0 && b.Other == nil) {
			continue
		}
		b = trimPrefix(b, ev+stats.Sep)
		cv := webCard(dim, b, s.Base+"/csv/prop?event="+url.QueryEscape(ev)+"&"+rangeQuery(p))
		cv.ID, cv.Title, cv.Views = "prop-"+safeFile(ev), "Properties of "+ev, false
		if ev == goals.PageviewName {
			cv.Title = "Properties of page views"
		}
		for j := range cv.Rows {
			cv.Rows[j].Label = conversionLabel(stats.DimProp, cv.Rows[j].Value)
		}
		cards = append(cards, cv)
	}
	return cards, nil
}

// conversionLabel shows a breakdown value under a goal: "plan = pro" for
// a property, "(none)" for an empty campaign or source.
func conversionLabel(dim, v string) string {
	if dim == stats.DimGoalProp || dim == stats.DimProp {
		if prop, val, ok := strings.Cut(v, stats.Sep); ok {
			return prop + " = " + val
		}
	}
	if v == "" {
		return "(none)"
	}
	return v
}

// goalAdd adds a goal from the dashboard's form: an event name, or a page
// path pattern.
func (d *Dashboards) goalAdd(c *fiber.Ctx) error {
	s := scopeOf(c)
	if d.opts.Goals == nil {
		return d.renderError(c, fiber.StatusBadRequest, "Goals cannot be edited here: no goal store is configured.")
	}
	var event, path string
	match := strings.Clone(c.FormValue("match"))
	switch c.FormValue("kind") {
	case "event":
		event = match
	case "page":
		path = match
	default:
		return d.renderError(c, fiber.StatusBadRequest, "Choose whether the goal is an event or a page.")
	}
	g, err := goals.NewGoal(strings.Clone(c.FormValue("name")), event, path)
	if err != nil {
		return d.renderError(c, fiber.StatusBadRequest, "This goal cannot be added: "+err.Error()+".")
	}
	switch err := d.opts.Goals.Add(c.UserContext(), s.Site.Domain, g); {
	case errors.Is(err, goals.ErrExists):
		return d.renderError(c, fiber.StatusBadRequest, "A goal named "+g.Name+" exists already.")
	case errors.Is(err, goals.ErrNoStore):
		return d.renderError(c, fiber.StatusBadRequest, "Goals cannot be edited here: no goal store is configured.")
	case err != nil:
		return d.failed(c, fmt.Errorf("cannot add goal: %w", err))
	}
	return c.Redirect(backToGoals(c, s), fiber.StatusSeeOther)
}

// backToGoals is the site page the form was posted from (its range kept),
// at the goals card.
func backToGoals(c *fiber.Ctx, s *scope) string {
	if q := c.Request().URI().QueryString(); len(q) > 0 {
		return s.Base + "?" + string(q) + "#goals"
	}
	return s.Base + "#goals"
}

// goalDelete deletes a goal added from the dashboard; the sites file's
// goals are edited there.
func (d *Dashboards) goalDelete(c *fiber.Ctx) error {
	s := scopeOf(c)
	if d.opts.Goals == nil {
		return d.renderError(c, fiber.StatusBadRequest, "Goals cannot be edited here: no goal store is configured.")
	}
	ok, err := d.opts.Goals.Delete(c.UserContext(), s.Site.Domain, strings.Clone(c.FormValue("name")))
	switch {
	case errors.Is(err, goals.ErrFileGoal):
		return d.renderError(c, fiber.StatusBadRequest, "This goal is declared in the sites file: edit it there.")
	case errors.Is(err, goals.ErrNoStore):
		return d.renderError(c, fiber.StatusBadRequest, "Goals cannot be edited here: no goal store is configured.")
	case err != nil:
		return d.failed(c, fmt.Errorf("cannot delete goal: %w", err))
	case !ok:
		return d.renderError(c, fiber.StatusNotFound, "This site has no such goal.")
	}
	return c.Redirect(backToGoals(c, s), fiber.StatusSeeOther)
}

// goalsFigures is the report of the goals API and CSV.
func (d *Dashboards) goalsFigures(c *fiber.Ctx, f figures, p period) (goalsReport, error) {
	s := scopeOf(c)
	ctx := c.UserContext()
	set := d.goalSet(s.Site.Domain)
	var totals stats.Totals
	var cv conversions
	err := parallel(
		func() (err error) { totals, err = f.Totals(ctx, p.Range); return },
		func() (err error) { cv, err = f.Conversions(ctx, p.Range, set); return },
	)
	if err != nil {
		return goalsReport{}, err
	}
	return newGoalsReport(d.opts.Goals, s.Site.Domain, set, cv, totals), nil
}

func (d *Dashboards) apiGoals(c *fiber.Ctx) error   { return d.apiConversions(c, false) }
func (d *Dashboards) apiFunnels(c *fiber.Ctx) error { return d.apiConversions(c, true) }

func (d *Dashboards) apiConversions(c *fiber.Ctx, funnels bool) error {
	s := scopeOf(c)
	p, ar, ok := d.apiPeriod(c)
	if !ok {
		return nil
	}
	f, err := d.figuresFor(c)
	if err != nil {
		return d.apiFailed(c, err)
	}
	rep, err := d.goalsFigures(c, f, p)
	if err != nil {
		return d.apiFailed(c, err)
	}
	if funnels {
		if c.Query("format") == "csv" {
			return sendCSV(c, s.Site.Domain+"-funnels-"+p.From+"-"+p.To+".csv", funnelsCSV(rep))
		}
		return c.JSON(fiber.Map{"site": s.Site.Domain, "range": ar, "funnels": rep.Funnels, "coverage": rep.Coverage,
			"coverage_note": coverageNote, "privacy": exactness(f)})
	}
	if c.Query("format") == "csv" {
		return sendCSV(c, s.Site.Domain+"-goals-"+p.From+"-"+p.To+".csv", goalsCSV(rep))
	}
	return c.JSON(fiber.Map{"site": s.Site.Domain, "range": ar, "goals": rep.Goals, "uniques": rep.Uniques,
		"coverage": rep.Coverage, "coverage_note": coverageNote, "notes": goalNotes, "privacy": exactness(f)})
}

const coverageNote = "attribution and funnels cover the share of page views whose visitors' consent allows a daily hash"

var goalNotes = fiber.Map{
	"current":                 "hits are conversions; visitors are unique converters, summed over days, where uniques are recorded",
	"conversion_rate":         "conversions per visit",
	"visitor_conversion_rate": "unique converters per visitor (where uniques are recorded)",
	"revenue":                 "per currency, never converted; amount_micros is millionths of the currency's unit",
}

// apiGoalBreakdown answers /breakdown/{goal_prop,goal_source,goal_campaign,goal_entry,prop}.
func (d *Dashboards) apiGoalBreakdown(c *fiber.Ctx, dim string) error {
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
	parent := strings.Clone(c.Query(goalParam(dim)))
	b, err := f.GoalBreakdown(c.UserContext(), dim, parent, d.goalSet(s.Site.Domain), p.Range, n, strings.Clone(c.Query("filter")))
	if err != nil {
		return d.apiFailed(c, err)
	}
	if c.Query("format") == "csv" {
		return sendCSV(c, s.Site.Domain+"-"+dim+"-"+safeFile(parent)+"-"+p.From+"-"+p.To+".csv", conversionCSV(b))
	}
	out := fiber.Map{"site": s.Site.Domain, "range": ar, "dimension": dim, goalParam(dim): parent, "rows": b.Rows,
		"other": b.Other, "k": b.K, "privacy": exactness(f)}
	if b.Folded > 0 && f.Exact() {
		out["folded"] = b.Folded
	}
	return c.JSON(out)
}

// conversionCSV is a conversion breakdown as CSV: a property's name and
// value in columns of their own.
func conversionCSV(b stats.Breakdown) [][]string {
	head := []string{"value", "visitors", "hits"}
	if b.Dimension == stats.DimGoalProp || b.Dimension == stats.DimProp {
		head = []string{"property", "value", "visitors", "hits"}
	}
	rows := [][]string{head}
	add := func(r stats.Row) {
		if len(head) == 4 {
			prop, val, _ := strings.Cut(r.Value, stats.Sep)
			rows = append(rows, []string{cell(prop), cell(val), i64(r.Visitors), i64(r.Hits)})
			return
		}
		rows = append(rows, []string{cell(r.Value), i64(r.Visitors), i64(r.Hits)})
	}
	for _, r := range b.Rows {
		add(r)
	}
	if b.Other != nil {
		add(*b.Other)
	}
	return rows
}

func optPct(f *float64) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("%.4f", *f)
}

func count(c stats.WebCounts, n int64) string {
	if c.BelowK {
		return ""
	}
	return i64(n)
}

// goalsCSV is one line per goal and currency (a goal without revenue has
// one line with the currency empty); withheld figures are empty.
func goalsCSV(rep goalsReport) [][]string {
	rows := [][]string{{"goal", "event", "path", "conversions", "unique_conversions", "conversion_rate", "visitor_conversion_rate",
		"previous_conversions", "previous_unique_conversions", "previous_conversion_rate",
		"currency", "revenue_conversions", "revenue_total", "revenue_average", "previous_revenue_total"}}
	for _, g := range rep.Goals {
		base := []string{cell(g.Name), cell(g.Event), cell(g.Path), count(g.Current, g.Current.Hits), count(g.Current, g.Current.Visitors),
			optPct(g.Rate), optPct(g.VisitorRate), count(g.Previous, g.Previous.Hits), count(g.Previous, g.Previous.Visitors), optPct(g.PrevRate)}
		if len(g.Revenue) == 0 {
			rows = append(rows, append(base, "", "", "", "", ""))
		}
		for _, r := range g.Revenue {
			conv := ""
			if !r.Current.BelowK {
				conv = i64(r.Current.Conversions)
			}
			rows = append(rows, append(append([]string(nil), base...), r.Currency, conv, r.Total, r.Average, r.PrevTotal))
		}
	}
	return rows
}

// funnelsCSV is one line per funnel step; withheld counts are empty.
func funnelsCSV(rep goalsReport) [][]string {
	rows := [][]string{{"funnel", "step", "label", "visitors", "drop_off", "conversion"}}
	for _, fr := range rep.Funnels {
		for _, s := range fr.Steps {
			v := ""
			if !s.BelowK {
				v = i64(s.Visitors)
			}
			rows = append(rows, []string{cell(fr.Name), i64(int64(s.Step)), cell(s.Label), v, optPct(s.DropOff), optPct(s.Conversion)})
		}
	}
	return rows
}

// conversionSiteCSV answers the page's CSV links of the goals card;
// handled reports whether dim was one of them.
func (d *Dashboards) conversionSiteCSV(c *fiber.Ctx, f figures, p period, dim string) (handled bool, err error) {
	s := scopeOf(c)
	switch dim {
	case "goals", "funnels":
		rep, err := d.goalsFigures(c, f, p)
		if err != nil {
			return true, d.failed(c, err)
		}
		file := fmt.Sprintf("%s-%s-%s-%s.csv", s.Site.Domain, dim, p.From, p.To)
		if dim == "goals" {
			return true, sendCSV(c, file, goalsCSV(rep))
		}
		return true, sendCSV(c, file, funnelsCSV(rep))
	}
	if _, ok := stats.LookupConversion(dim); !ok {
		return false, nil
	}
	parent := strings.Clone(c.Query(goalParam(dim)))
	b, err := f.GoalBreakdown(c.UserContext(), dim, parent, d.goalSet(s.Site.Domain), p.Range, stats.MaxLimit, strings.Clone(c.Query("filter")))
	if err != nil {
		return true, d.failed(c, err)
	}
	return true, sendCSV(c, fmt.Sprintf("%s-%s-%s-%s-%s.csv", s.Site.Domain, dim, safeFile(parent), p.From, p.To), conversionCSV(b))
}
