package dashboards

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"

	"tally/counter"
	"tally/dashboards/stats"
	"tally/goals"
)

// The conversions of issue 13: the goals card, its breakdowns under each
// goal, funnels and the coverage of attribution. Figures come from the
// stats queries through the viewer's privacy policy (figures), shaped here
// into one report that the page, the JSON API and the CSV downloads share.

// goalDims are the breakdowns shown under each goal, in card order.
var goalDims = []string{stats.DimGoalProp, stats.DimGoalSource, stats.DimGoalCampaign, stats.DimGoalEntry}

// goalRows is how many values each breakdown under a goal lists.
const goalRows = 10

// conversions is the released conversion rows of a site over a range.
type conversions struct {
	Goals    map[string]stats.Totals
	Revenue  []stats.RevenueTotals
	Funnels  map[string][]stats.FunnelStep // by funnel, steps 1..n in order
	On, Off  stats.WebCounts
	Coverage *float64 // page views with the daily hash, of all counted; nil when unknown
}

// Conversions releases the goal, revenue, funnel and coverage counts of the
// site's declared goals and funnels (set; nil declares none).
func (f figures) Conversions(ctx context.Context, r stats.Range, set *goals.Set) (conversions, error) {
	ct, err := f.q.Conversions(ctx, f.site.Domain, r)
	if err != nil {
		return conversions{}, err
	}
	out := conversions{Goals: map[string]stats.Totals{}, Funnels: map[string][]stats.FunnelStep{}}
	if set == nil {
		return out, nil
	}
	for _, g := range set.Goals {
		out.Goals[g.Name] = f.pol.Goal(g.Name, ct.Goals[g.Name], r)
	}
	for _, rt := range ct.Revenue {
		if g, ok := out.Goals[rt.Goal]; ok {
			out.Revenue = append(out.Revenue, f.pol.Revenue(rt, g, r))
		}
	}
	byStep := map[string]stats.FunnelStep{}
	for _, s := range ct.Funnels {
		byStep[s.Funnel+stats.Sep+strconv.Itoa(s.Step)] = s
	}
	for _, fn := range set.Funnels {
		steps := make([]stats.FunnelStep, len(fn.Steps))
		for i := range fn.Steps {
			s, ok := byStep[fn.Name+stats.Sep+strconv.Itoa(i+1)]
			if !ok {
				s = stats.FunnelStep{Funnel: fn.Name, Step: i + 1}
			}
			steps[i] = f.pol.FunnelStep(s, r)
		}
		out.Funnels[fn.Name] = steps
	}
	out.On, out.Off = f.pol.Coverage(ct.UniquesOn, ct.UniquesOff, r)
	if !out.On.BelowK {
		// A withheld "off" reads 0: coverage then shows as complete,
		// which is what a count below k is as a share of the rest.
		if all := out.On.Pageviews + out.Off.Pageviews; all > 0 {
			c := float64(out.On.Pageviews) / float64(all)
			out.Coverage = &c
		}
	}
	return out, nil
}

// goalDimension names the breakdown of one goal for the privacy policy, so
// that each goal's values and its "(other)" get noise of their own.
func goalDimension(dim, goal string) stats.Dimension {
	d, _ := stats.LookupConversion(dim)
	d.Name += stats.Sep + goal
	return d
}

// GoalBreakdowns is one conversion breakdown of every goal in visible (the
// goals whose conversions are released): values keep their "<goal>\t"
// prefix. A goal whose conversions are withheld has no breakdown: a
// property breakdown may count one conversion several times (one per
// property), so its "(other)" could pass k where the goal does not.
func (f figures) GoalBreakdowns(ctx context.Context, dim string, r stats.Range, visible map[string]bool) (map[string]stats.Breakdown, error) {
	all, err := f.q.GoalBreakdowns(ctx, stats.GoalBreakdownsQuery{Site: f.site.Domain, Dimension: dim, Range: r,
		Limit: goalRows, K: f.pol.K, Measure: f.pol.Measure})
	if err != nil {
		return nil, err
	}
	out := map[string]stats.Breakdown{}
	for g, b := range all {
		if visible[g] {
			out[g] = f.pol.Breakdown(b, r, goalDimension(dim, g))
		}
	}
	return out, nil
}

// GoalBreakdown is one conversion breakdown of one goal (prop: of one
// event), for the API and CSV: the values after the prefix. A goal that is
// not declared, or whose conversions are withheld, has an empty answer.
func (f figures) GoalBreakdown(ctx context.Context, dim, goal string, set *goals.Set, r stats.Range, limit int, filter string) (stats.Breakdown, error) {
	if goal == "" {
		return stats.Breakdown{}, stats.InputErrorf("%s needs %s=", dim, goalParam(dim))
	}
	if _, ok := stats.LookupConversion(dim); !ok {
		return stats.Breakdown{}, stats.InputErrorf("unknown dimension %q", dim)
	}
	empty := stats.Breakdown{Dimension: dim, Rows: []stats.Row{}, K: f.pol.K}
	if dim == stats.DimProp {
		shown, err := f.eventShown(ctx, goal, r)
		if err != nil {
			return stats.Breakdown{}, err
		}
		if !shown {
			return empty, nil
		}
	} else {
		g, ok := set.Goal(goal)
		if !ok {
			return stats.Breakdown{}, stats.InputErrorf("unknown goal %q", goal)
		}
		cv, err := f.Conversions(ctx, r, &goals.Set{Goals: []goals.Goal{g}})
		if err != nil {
			return stats.Breakdown{}, err
		}
		if cv.Goals[goal].Current.BelowK {
			return empty, nil
		}
	}
	b, err := f.q.Breakdown(ctx, stats.BreakdownQuery{Site: f.site.Domain, Dimension: dim, Range: r, Limit: limit,
		Filter: filter, K: f.pol.K, Measure: f.pol.Measure, Prefix: goal + stats.Sep})
	if err != nil {
		return stats.Breakdown{}, err
	}
	b = f.pol.Breakdown(b, r, goalDimension(dim, goal))
	return trimPrefix(b, goal+stats.Sep), nil
}

// eventShown reports whether an event's count is released over r (page
// views: the site's total), so that the properties of an event below k
// stay withheld with it, as a goal's do.
func (f figures) eventShown(ctx context.Context, event string, r stats.Range) (bool, error) {
	if event == goals.PageviewName {
		t, err := f.Totals(ctx, r)
		return err == nil && !t.Current.BelowK && t.Current.Pageviews > 0, err
	}
	b, err := f.Breakdown(ctx, counter.DimEvent, r, stats.MaxLimit, event)
	if err != nil {
		return false, err
	}
	for _, row := range b.Rows {
		if row.Value == event {
			return true, nil
		}
	}
	return false, nil
}

// goalParam is the query parameter naming a conversion breakdown's parent.
func goalParam(dim string) string {
	if dim == stats.DimProp {
		return "event"
	}
	return "goal"
}

// trimPrefix drops the "<goal>\t" of a released breakdown's values.
func trimPrefix(b stats.Breakdown, prefix string) stats.Breakdown {
	rows := make([]stats.Row, len(b.Rows))
	for i, r := range b.Rows {
		r.Value = strings.TrimPrefix(r.Value, prefix)
		rows[i] = r
	}
	b.Rows = rows
	return b
}

// goalReport is one goal as every output shows it.
type goalReport struct {
	Name     string `json:"name"`
	Event    string `json:"event,omitempty"`
	Path     string `json:"path,omitempty"`
	FromFile bool   `json:"from_file"`
	// Current and Previous: hits are conversions, visitors unique
	// converters (0 where uniques are not recorded).
	Current  stats.WebCounts `json:"current"`
	Previous stats.WebCounts `json:"previous"`
	// Rate is conversions per visit; VisitorRate unique converters per
	// visitor (nil where unknown or withheld).
	Rate            *float64     `json:"conversion_rate"`
	PrevRate        *float64     `json:"previous_conversion_rate"`
	VisitorRate     *float64     `json:"visitor_conversion_rate"`
	PrevVisitorRate *float64     `json:"previous_visitor_conversion_rate"`
	Change          goalChange   `json:"change"`
	Revenue         []revenueRow `json:"revenue"`
	// Breakdowns under the goal, by dimension (page and JSON of the goals
	// card; values without the goal's prefix).
	Breakdowns map[string]stats.Breakdown `json:"-"`
}

type goalChange struct {
	Conversions *float64 `json:"conversions"`
	Unique      *float64 `json:"unique"`
	Rate        *float64 `json:"conversion_rate"`
}

// revenueRow is a goal's revenue in one currency, never converted.
type revenueRow struct {
	stats.RevenueTotals
	Total       string   `json:"total"`   // decimal, in the currency's unit; "" when withheld
	Average     string   `json:"average"` // per conversion with revenue
	PrevTotal   string   `json:"previous_total"`
	PrevAverage string   `json:"previous_average"`
	Change      *float64 `json:"change"` // of the total
}

// funnelReport is one funnel as released.
type funnelReport struct {
	Name  string       `json:"name"`
	Steps []stepReport `json:"steps"`
}

type stepReport struct {
	Step     int    `json:"step"`
	Label    string `json:"label"`
	Visitors int64  `json:"visitors"`
	BelowK   bool   `json:"below_k,omitempty"`
	// DropOff is the share of the previous step's visitors who did not
	// reach this one; Conversion the share of step 1's who did (nil where
	// either is withheld, and for step 1).
	DropOff    *float64 `json:"drop_off"`
	Conversion *float64 `json:"conversion"`
}

// goalsReport is the goals card.
type goalsReport struct {
	Goals   []goalReport   `json:"goals"`
	Funnels []funnelReport `json:"funnels"`
	// Coverage is the share of counted page views whose visitors' consent
	// allows the daily hash: attribution and funnels cover those only.
	Coverage *float64 `json:"coverage"`
	// Uniques: some goal has unique converters (uniques are recorded).
	Uniques bool `json:"uniques"`
}

// formatMicros writes an amount in micro-units as a decimal with at least
// two fraction digits: 12500000 -> "12.50", 1234567 -> "1.234567".
func formatMicros(m int64) string {
	neg := m < 0
	if neg {
		m = -m
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", m%stats.MicrosPerUnit), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	s := strconv.FormatInt(m/stats.MicrosPerUnit, 10) + "." + frac
	if neg {
		s = "-" + s
	}
	return s
}

func money(m stats.Money) (total, avg string) {
	if m.BelowK || m.Conversions <= 0 {
		return "", ""
	}
	return formatMicros(m.Micros), formatMicros((m.Micros + m.Conversions/2) / m.Conversions)
}

// newGoalsReport shapes released conversions against the site's released
// totals (for the rates).
func newGoalsReport(reg *goals.Registry, site string, set *goals.Set, cv conversions, totals stats.Totals) goalsReport {
	rep := goalsReport{Goals: []goalReport{}, Funnels: []funnelReport{}, Coverage: cv.Coverage}
	if set == nil {
		return rep
	}
	perVisit := func(n int64, t stats.WebCounts, withheld bool) *float64 {
		if withheld || t.BelowK || t.Withheld&stats.FieldVisits != 0 || t.Visits <= 0 {
			return nil
		}
		r := float64(n) / float64(t.Visits)
		return &r
	}
	perVisitor := func(n int64, t stats.WebCounts, withheld bool) *float64 {
		if withheld || n <= 0 || t.BelowK || t.Visitors <= 0 {
			return nil
		}
		r := float64(n) / float64(t.Visitors)
		return &r
	}
	for _, g := range set.Goals {
		t := cv.Goals[g.Name]
		gr := goalReport{Name: g.Name, Event: g.Event, Path: g.Path, FromFile: reg != nil && reg.FromFile(site, g.Name),
			Current: t.Current, Previous: t.Previous, Revenue: []revenueRow{}}
		gr.Rate = perVisit(t.Current.Hits, totals.Current, t.Current.BelowK)
		gr.PrevRate = perVisit(t.Previous.Hits, totals.Previous, t.Previous.BelowK)
		gr.VisitorRate = perVisitor(t.Current.Visitors, totals.Current, t.Current.BelowK)
		gr.PrevVisitorRate = perVisitor(t.Previous.Visitors, totals.Previous, t.Previous.BelowK)
		if !t.Current.BelowK && !t.Previous.BelowK {
			gr.Change.Conversions = ratio(t.Current.Hits, t.Previous.Hits)
			if t.Current.Visitors > 0 {
				gr.Change.Unique = ratio(t.Current.Visitors, t.Previous.Visitors)
			}
		}
		gr.Change.Rate = rateChange(gr.Rate, gr.PrevRate)
		if t.Current.Visitors > 0 {
			rep.Uniques = true
		}
		for _, rt := range cv.Revenue {
			if rt.Goal != g.Name {
				continue
			}
			rr := revenueRow{RevenueTotals: rt}
			rr.Total, rr.Average = money(rt.Current)
			rr.PrevTotal, rr.PrevAverage = money(rt.Previous)
			if !rt.Current.BelowK && !rt.Previous.BelowK {
				rr.Change = ratio(rt.Current.Micros, rt.Previous.Micros)
			}
			gr.Revenue = append(gr.Revenue, rr)
		}
		rep.Goals = append(rep.Goals, gr)
	}
	for _, fn := range set.Funnels {
		fr := funnelReport{Name: fn.Name}
		steps := cv.Funnels[fn.Name]
		for i, s := range steps {
			sr := stepReport{Step: s.Step, Label: fn.Steps[i].Name, Visitors: s.Visitors, BelowK: s.BelowK}
			if sr.Visitors == 0 && !s.BelowK {
				sr.Visitors = s.Hits // rows where visitors were not summed
			}
			if i > 0 && !sr.BelowK {
				prev := fr.Steps[i-1]
				// Noise may lift a step over the one before; a funnel
				// never grows, so the released figure is capped.
				if !prev.BelowK && sr.Visitors > prev.Visitors {
					sr.Visitors = prev.Visitors
				}
				if !prev.BelowK && prev.Visitors > 0 {
					d := 1 - float64(sr.Visitors)/float64(prev.Visitors)
					sr.DropOff = &d
				}
				if first := fr.Steps[0]; !first.BelowK && first.Visitors > 0 {
					c := float64(sr.Visitors) / float64(first.Visitors)
					sr.Conversion = &c
				}
			}
			fr.Steps = append(fr.Steps, sr)
		}
		rep.Funnels = append(rep.Funnels, fr)
	}
	return rep
}

// funnelChart draws a funnel's steps as bars, server-side like the other
// charts: each bar the visitors who reached the step, a withheld step
// hatched, and the drop-off from the step before written between them.
func funnelChart(fr funnelReport, k int) template.HTML {
	const w, rowH, labelW, top = 800.0, 44.0, 220.0, 6.0
	barW := w - labelW - 140
	var most int64 = 1
	for _, s := range fr.Steps {
		most = max(most, s.Visitors)
	}
	h := top + rowH*float64(len(fr.Steps))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart funnel" viewBox="0 0 %.0f %.0f" role="img" aria-label="Funnel %s: visitors per step" xmlns="http://www.w3.org/2000/svg">`,
		w, h, html.EscapeString(fr.Name))
	for i, s := range fr.Steps {
		y := top + rowH*float64(i)
		label := strconv.Itoa(s.Step) + ". " + s.Label
		fmt.Fprintf(&b, `<g data-step="%d"><title>%s</title>`, s.Step, html.EscapeString(stepTitle(s, k)))
		fmt.Fprintf(&b, `<text class="axis" x="0" y="%.1f">%s</text>`, y+20, html.EscapeString(truncate(label, 32)))
		if s.BelowK {
			fmt.Fprintf(&b, `<rect class="withheld" x="%.0f" y="%.1f" width="%.1f" height="24"/>`, labelW, y+4, barW)
			fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.1f">&lt; %d</text>`, labelW+barW+8, y+20, k)
		} else {
			fmt.Fprintf(&b, `<rect class="bar" x="%.0f" y="%.1f" width="%.1f" height="24"/>`, labelW, y+4, barW*float64(s.Visitors)/float64(most))
			fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.1f" data-visitors="%d">%s</text>`, labelW+barW+8, y+20, s.Visitors, formatInt(s.Visitors))
		}
		if s.DropOff != nil {
			fmt.Fprintf(&b, `<text class="axis drop" x="%.0f" y="%.1f" text-anchor="end">−%s</text>`, w-4, y+20, formatPct(*s.DropOff))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every interpolated text is escaped above
}

func stepTitle(s stepReport, k int) string {
	t := "Step " + strconv.Itoa(s.Step) + ", " + s.Label + ": "
	if s.BelowK {
		return t + "fewer than " + strconv.Itoa(k) + ", not shown"
	}
	t += formatInt(s.Visitors) + " visitors"
	if s.DropOff != nil {
		t += ", " + formatPct(*s.DropOff) + " dropped off"
	}
	return t
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
