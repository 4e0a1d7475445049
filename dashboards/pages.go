package dashboards

import (
	"html/template"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/counter"
	"tally/dashboards/privacy"
	"tally/dashboards/stats"
	"tally/sites"
)

// The handlers of the HTML pages: each parses its request, runs the stats
// queries (in parallel where there are several) and renders a view model
// from views.go.

func (d *Dashboards) home(c *fiber.Ctx) error {
	all := d.opts.Sites.All()
	sums := make([]siteSummary, len(all))
	// UserContext sets itself on first use: read it once, before the
	// goroutines, or they race on the request's user values.
	ctx := c.UserContext()
	var fs []func() error
	for i, s := range all {
		sums[i].Site = s
		sums[i].K = s.MinCountK
		fs = append(fs, func() error {
			p, err := parsePeriod("7d", "", "", s.Location, d.opts.Now(), d.opts.Retention)
			if err != nil {
				return err
			}
			// The home page is the admin's: exact, folded at each site's k.
			f := figures{q: d.stats, pol: privacy.Admin(s), site: s, now: d.opts.Now()}
			sums[i].Totals, err = f.Totals(ctx, p.Range)
			return err
		})
	}
	if err := parallel(fs...); err != nil {
		return d.failed(c, err)
	}
	return d.render(c, fiber.StatusOK, "home", homeView{page: d.newPage(c, "Sites"), Summaries: sums})
}

func (d *Dashboards) period(c *fiber.Ctx, site *sites.Site) (period, error) {
	return parsePeriod(c.Query("range"), c.Query("from"), c.Query("to"), site.Location, d.opts.Now(), d.opts.Retention)
}

func rangeQuery(p period) string {
	if p.Key == "custom" {
		return "range=custom&from=" + p.From + "&to=" + p.To
	}
	return "range=" + p.Key
}

func (d *Dashboards) sitePage(c *fiber.Ctx) error {
	s := scopeOf(c)
	site := s.Site
	p, err := d.period(c, site)
	if err != nil {
		return d.renderError(c, fiber.StatusBadRequest, err.Error())
	}
	f, err := d.figuresFor(c)
	if err != nil {
		return d.failed(c, err)
	}
	ctx := c.UserContext()
	var totals, exact stats.Totals
	var series []stats.Point
	var heat []stats.AccessCell
	var entries, exits stats.Breakdown
	breakdowns := make([]stats.Breakdown, len(stats.WebDimensions))
	fs := []func() error{
		func() (err error) { totals, err = f.Totals(ctx, p.Range); return },
		func() (err error) { series, err = f.Series(ctx, p.Range, p.Interval, "", ""); return },
		func() (err error) { heat, err = f.AccessTimes(ctx, p.Range); return },
		func() (err error) {
			entries, err = f.BreakdownBy(ctx, counter.DimPath, p.Range, 10, "", byVisits)
			return
		},
		func() (err error) { exits, err = f.BreakdownBy(ctx, counter.DimPath, p.Range, 10, "", byExits); return },
	}
	if s.Admin {
		// Whether to show the embed snippet needs the exact totals: a
		// count below k is withheld like an empty one.
		fs = append(fs, func() (err error) { exact, err = d.stats.Totals(ctx, site.Domain, p.Range); return })
	}
	for i, dim := range stats.WebDimensions {
		fs = append(fs, func() (err error) {
			breakdowns[i], err = f.Breakdown(ctx, dim.Name, p.Range, 10, "")
			return
		})
	}
	if err := parallel(fs...); err != nil {
		return d.failed(c, err)
	}
	var gv *goalsView
	var props []cardView[stats.WebCounts]
	eventIdx := slices.IndexFunc(stats.WebDimensions, func(d stats.Dimension) bool { return d.Name == counter.DimEvent })
	if err := parallel(
		func() (err error) { gv, err = d.goalsCard(ctx, f, s, p, totals); return },
		func() (err error) { props, err = d.propCards(ctx, f, s, p, totals, breakdowns[eventIdx]); return },
	); err != nil {
		return d.failed(c, err)
	}

	v := siteView{Goals: gv, RangeQuery: template.URL(rangeQuery(p)), page: d.newPage(c, site.Domain), Period: p, Totals: totals, K: f.K(), Exact: f.Exact(), Zone: site.Location.String(), Unit: "visitors",
		Cur: totals.Current.Metrics(true), Prev: totals.Previous.Metrics(true), Heat: newHeat(heat, f.K())}
	v.VisitsShown = !totals.Current.BelowK && !totals.Previous.BelowK && (totals.Current.Withheld|totals.Previous.Withheld)&stats.FieldVisits == 0
	if f.pol.Measure == stats.MeasureHits {
		v.Unit = "hits"
	}
	for _, pr := range presets {
		v.Presets = append(v.Presets, presetLink{Key: pr.Key, Label: pr.Label, URL: s.Base + "?range=" + pr.Key, Active: pr.Key == p.Key})
	}
	pts := make([]seriesPoint, len(series))
	for i, pt := range series {
		pts[i] = seriesPoint{Start: pt.Start, Bar: pt.Pageviews, Line: pt.Visitors, Withheld: pt.BelowK}
	}
	v.Chart = seriesChart(pts, p.Interval, "Page views", "Visitors")
	path, _ := stats.LookupWeb(counter.DimPath)
	for i, dim := range stats.WebDimensions {
		cv := webCard(dim, breakdowns[i], s.Base+"/csv/"+dim.Name+"?"+rangeQuery(p))
		if dim.Name == counter.DimFiltered {
			shareOfAllHits(&cv, totals.Current.Hits)
		}
		v.Cards = append(v.Cards, cv)
		if dim.Name == counter.DimEvent {
			v.Cards = append(v.Cards, props...)
		}
		if dim.Name == counter.DimPath {
			v.Cards = append(v.Cards,
				webCardBy(path, entries, s.Base+"/csv/path?by=visits&"+rangeQuery(p), byVisits),
				webCardBy(path, exits, s.Base+"/csv/path?by=exits&"+rangeQuery(p), byExits))
		}
	}
	v.Empty = s.Admin && exact.Current.Hits == 0 && exact.Previous.Hits == 0
	if v.Empty {
		host := d.opts.PublicURL
		if host == "" {
			host = c.BaseURL()
		}
		v.Snippet = `<script defer data-domain="` + site.Domain + `" src="` + host + `/js/script.js"></script>`
		v.Pixel = `<noscript><img src="` + host + `/p.gif?d=` + url.QueryEscape(site.Domain) + `" alt="" width="1" height="1"></noscript>`
	}
	return d.render(c, fiber.StatusOK, "site", v)
}

func (d *Dashboards) since() time.Time {
	return d.opts.Now().Add(-d.opts.Retention).UTC().Truncate(time.Hour)
}

func (d *Dashboards) emailPage(c *fiber.Ctx) error {
	s := scopeOf(c)
	f, err := d.figuresFor(c)
	if err != nil {
		return d.failed(c, err)
	}
	cs, err := f.Campaigns(c.UserContext(), d.since(), 200)
	if err != nil {
		return d.failed(c, err)
	}
	return d.render(c, fiber.StatusOK, "email", emailView{page: d.newPage(c, s.Site.Domain+" · Email"), Campaigns: cs, Since: d.since(), K: f.K(), Exact: f.Exact()})
}

// campaignName is the :campaign parameter, unescaped.
func campaignName(c *fiber.Ctx) string {
	name := strings.Clone(c.Params("campaign"))
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	return name
}

func (d *Dashboards) campaignPage(c *fiber.Ctx) error {
	s := scopeOf(c)
	name := campaignName(c)
	f, err := d.figuresFor(c)
	if err != nil {
		return d.failed(c, err)
	}
	ctx := c.UserContext()
	cp, ok, err := f.Campaign(ctx, name, d.since())
	if err != nil {
		return d.failed(c, err)
	}
	if !ok {
		return d.renderError(c, fiber.StatusNotFound, "This campaign has no sends or opens yet.")
	}
	iv := cp.Interval()
	var series, early []stats.EmailPoint
	bds := make([]stats.EmailBreakdown, len(stats.EmailDimensions))
	fs := []func() error{func() (err error) {
		series, err = f.CampaignSeries(ctx, cp, iv)
		return
	}, func() (err error) {
		early, err = f.CampaignFirstHours(ctx, cp)
		return
	}}
	for i, dim := range stats.EmailDimensions {
		fs = append(fs, func() (err error) {
			bds[i], err = f.CampaignBreakdown(ctx, cp, dim.Name, d.since(), 10)
			return
		})
	}
	if err := parallel(fs...); err != nil {
		return d.failed(c, err)
	}
	v := campaignView{page: d.newPage(c, name+" · "+s.Site.Domain), Campaign: cp.Campaign, K: f.K(), Exact: f.Exact(), Zone: s.Site.Location.String()}
	pts := make([]seriesPoint, len(series))
	for i, p := range series {
		pts[i] = seriesPoint{Start: p.Start, Bar: p.Opens, Line: p.UniqueOpens, Withheld: p.BelowK}
	}
	v.Chart = seriesChart(pts, iv, "Opens", "Unique opens")
	csvBase := s.Base + "/email/" + url.PathEscape(name) + "/csv/"
	for i, dim := range stats.EmailDimensions {
		v.Cards = append(v.Cards, emailCard(dim, bds[i], csvBase+dim.Name))
		if dim.Name == counter.DimMachine {
			v.Machines = machineExplained(bds[i])
		}
	}
	if len(early) > 0 {
		v.Rates, v.Hours = rateChart(firstHours(early, cp.Sent)), len(early)
	}
	v.HoursCSV, v.SummaryCSV = csvBase+"hours", csvBase+"summary"
	return d.render(c, fiber.StatusOK, "campaign", v)
}

func (d *Dashboards) sharePage(c *fiber.Ctx) error {
	return d.renderShares(c, "")
}

func (d *Dashboards) renderShares(c *fiber.Ctx, newURL string) error {
	s := scopeOf(c)
	links, err := d.shares.List(c.UserContext(), s.Site.Domain)
	if err != nil {
		return d.failed(c, err)
	}
	return d.render(c, fiber.StatusOK, "share", shareView{page: d.newPage(c, s.Site.Domain+" · Sharing"), Links: links, NewURL: newURL, Now: d.opts.Now()})
}

func (d *Dashboards) shareCreate(c *fiber.Ctx) error {
	s := scopeOf(c)
	label := strings.TrimSpace(c.FormValue("label"))
	if len(label) > 100 {
		return d.renderError(c, fiber.StatusBadRequest, "The label is too long (100 characters at most).")
	}
	ttl, ok := shareTTLs[c.FormValue("expires")]
	if !ok {
		return d.renderError(c, fiber.StatusBadRequest, "Choose when the link expires from the list.")
	}
	token, _, err := d.shares.Create(c.UserContext(), s.Site.Domain, strings.Clone(label), ttl)
	if err != nil {
		return d.failed(c, err)
	}
	// The token is shown this once; only its hash is stored.
	return d.renderShares(c, c.BaseURL()+"/share/"+token)
}

// shareTTLs are the expiries the share form offers ("": never).
var shareTTLs = map[string]time.Duration{"": 0, "1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

func (d *Dashboards) shareRevoke(c *fiber.Ctx) error {
	s := scopeOf(c)
	ok, err := d.shares.Revoke(c.UserContext(), s.Site.Domain, strings.Clone(c.Params("id")))
	if err != nil {
		return d.failed(c, err)
	}
	if !ok {
		return d.renderError(c, fiber.StatusNotFound, "There is no such share link for this site.")
	}
	return c.Redirect(s.Base+"/share", fiber.StatusSeeOther)
}

// shareOfAllHits makes the filtered card's shares shares of every hit
// (counted and filtered), so that each reason says how much of the traffic
// it dropped. Values folded below k are missing from that total.
func shareOfAllHits(cv *cardView[stats.WebCounts], counted int64) {
	all := counted
	for _, r := range cv.Rows {
		all += r.Measure
	}
	if cv.Other != nil {
		all += cv.Other.Measure
	}
	set := func(r *rowView[stats.WebCounts]) {
		if all > 0 {
			r.Pct = float64(r.Measure) / float64(all)
		}
	}
	for i := range cv.Rows {
		set(&cv.Rows[i])
	}
	if cv.Other != nil {
		set(cv.Other)
	}
	cv.Note = "Share: of all hits, counted and filtered."
}
