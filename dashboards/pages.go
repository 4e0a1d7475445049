package dashboards

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/counter"
	"tally/dashboards/share"
	"tally/dashboards/stats"
	"tally/sites"
)

// page is what the layout needs from every page.
type page struct {
	Title string
	Scope *scope
	Sites []*sites.Site // the site switcher, for admins
}

func (d *Dashboards) newPage(c *fiber.Ctx, title string) page {
	s := scopeOf(c)
	p := page{Title: title, Scope: s}
	if s.Admin {
		p.Sites = d.opts.Sites.All()
	}
	return p
}

func (d *Dashboards) render(c *fiber.Ctx, status int, name string, data any) error {
	t, ok := d.pages[name]
	if !ok {
		return errors.New("dashboards: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		d.opts.Logger.Error("cannot render page", "page", name, "err", err)
		return c.Status(fiber.StatusInternalServerError).SendString("The page could not be rendered.")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

type errorView struct {
	page
	Status  int
	Message string
}

func (d *Dashboards) renderError(c *fiber.Ctx, status int, msg string) error {
	return d.render(c, status, "error", errorView{page: d.newPage(c, "Error"), Status: status, Message: msg})
}

// failed answers a failed query: bad input is the caller's 400, anything
// else is logged and a 500 without details.
func (d *Dashboards) failed(c *fiber.Ctx, err error) error {
	var ie *stats.InputError
	if errors.As(err, &ie) {
		return d.renderError(c, fiber.StatusBadRequest, ie.Error())
	}
	d.opts.Logger.Error("dashboard query failed", "route", c.Route().Path, "err", err)
	return d.renderError(c, fiber.StatusInternalServerError, "The figures could not be loaded. Please try again in a moment.")
}

func (d *Dashboards) asset(c *fiber.Ctx) error {
	name := c.Params("file")
	b, err := readAsset(d.assets, name)
	if err != nil {
		return c.SendStatus(fiber.StatusNotFound)
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		c.Set(fiber.HeaderContentType, "application/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		c.Set(fiber.HeaderContentType, "image/svg+xml")
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.Send(b)
}

// parallel runs fs concurrently and returns the first error.
func parallel(fs ...func() error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(fs))
	for i, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// --- home ---

type siteSummary struct {
	Site   *sites.Site
	Totals stats.Totals
}

type homeView struct {
	page
	Summaries []siteSummary
}

func (d *Dashboards) home(c *fiber.Ctx) error {
	all := d.opts.Sites.All()
	sums := make([]siteSummary, len(all))
	// UserContext sets itself on first use: read it once, before the
	// goroutines, or they race on the request's user values.
	ctx := c.UserContext()
	var fs []func() error
	for i, s := range all {
		sums[i].Site = s
		fs = append(fs, func() error {
			p, err := parsePeriod("7d", "", "", s.Location, d.opts.Now(), d.opts.Retention)
			if err != nil {
				return err
			}
			sums[i].Totals, err = d.stats.Totals(ctx, s.Domain, p.Range)
			return err
		})
	}
	if err := parallel(fs...); err != nil {
		return d.failed(c, err)
	}
	return d.render(c, fiber.StatusOK, "home", homeView{page: d.newPage(c, "Sites"), Summaries: sums})
}

// --- site dashboard ---

type rowView struct {
	Label, Value string
	stats.WebCounts
	Measure int64
	Share   float64 // of the card's largest row, for the bar behind it
	Pct     float64 // of the card's total, for hit-only cards
}

type cardView struct {
	stats.Dimension
	Rows   []rowView
	Other  *rowView
	Folded int64
	CSV    string
	Note   string // what the Share column is a share of, where not obvious
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
	Chart   any
	Cards   []cardView
	Empty   bool
	Snippet string
	Pixel   string
	Zone    string
	K       int
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
	ctx := c.UserContext()
	var totals stats.Totals
	var series []stats.Point
	breakdowns := make([]stats.Breakdown, len(stats.WebDimensions))
	fs := []func() error{
		func() (err error) { totals, err = d.stats.Totals(ctx, site.Domain, p.Range); return },
		func() (err error) {
			series, err = d.stats.Series(ctx, stats.SeriesQuery{Site: site.Domain, Range: p.Range, Interval: p.Interval, Location: site.Location})
			return
		},
	}
	for i, dim := range stats.WebDimensions {
		fs = append(fs, func() (err error) {
			breakdowns[i], err = d.stats.Breakdown(ctx, stats.BreakdownQuery{
				Site: site.Domain, Dimension: dim.Name, Range: p.Range, Limit: 10, K: site.MinCountK})
			return
		})
	}
	if err := parallel(fs...); err != nil {
		return d.failed(c, err)
	}

	v := siteView{page: d.newPage(c, site.Domain), Period: p, Totals: totals, K: site.MinCountK, Zone: site.Location.String()}
	for _, pr := range presets {
		v.Presets = append(v.Presets, presetLink{Key: pr.Key, Label: pr.Label, URL: s.Base + "?range=" + pr.Key, Active: pr.Key == p.Key})
	}
	v.Chart = svgChart(chartPoints(series, p.Interval), "Page views", "Visitors")
	for i, dim := range stats.WebDimensions {
		cv := card(dim, breakdowns[i], s.Base+"/csv/"+dim.Name+"?"+rangeQuery(p))
		if dim.Name == counter.DimFiltered {
			shareOfAllHits(&cv, totals.Current.Hits)
		}
		v.Cards = append(v.Cards, cv)
	}
	v.Empty = totals.Current.Hits == 0 && totals.Previous.Hits == 0
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

func chartPoints(series []stats.Point, iv stats.Interval) []chartPoint {
	out := make([]chartPoint, len(series))
	for i, pt := range series {
		label := pt.Start.Format("Jan 2")
		title := pt.Start.Format("Mon Jan 2")
		if iv == stats.Hourly {
			label = pt.Start.Format("15:04")
			title = pt.Start.Format("Mon Jan 2 15:04")
		}
		out[i] = chartPoint{Label: label, Title: title + ": " + formatInt(pt.Pageviews) + " page views, " + formatInt(pt.Visitors) + " visitors",
			Bar: pt.Pageviews, Line: pt.Visitors}
	}
	return out
}

func card(dim stats.Dimension, b stats.Breakdown, csv string) cardView {
	cv := cardView{Dimension: dim, Folded: b.Folded, CSV: csv}
	measure := func(w stats.WebCounts) int64 {
		if dim.HitsOnly {
			return w.Hits
		}
		return w.Visitors
	}
	var top, total int64 = 1, 0
	for _, r := range b.Rows {
		top = maxInt(top, measure(r.WebCounts))
		total += measure(r.WebCounts)
	}
	if b.Other != nil {
		total += measure(b.Other.WebCounts)
	}
	row := func(r stats.Row) rowView {
		m := measure(r.WebCounts)
		rv := rowView{Label: valueLabel(dim.Name, r.Value), Value: r.Value, WebCounts: r.WebCounts, Measure: m,
			Share: float64(m) / float64(top) * 100}
		if total > 0 {
			rv.Pct = float64(m) / float64(total)
		}
		return rv
	}
	for _, r := range b.Rows {
		cv.Rows = append(cv.Rows, row(r))
	}
	if b.Other != nil {
		o := row(*b.Other)
		o.Label = stats.OtherValue
		cv.Other = &o
	}
	return cv
}

// shareOfAllHits makes the filtered card's shares shares of every hit
// that passed the consent gate: the counted ones and the filtered ones.
// Filtered values folded below k and not shown are missing from the sum.
func shareOfAllHits(cv *cardView, counted int64) {
	all := counted
	for _, r := range cv.Rows {
		all += r.Measure
	}
	if cv.Other != nil {
		all += cv.Other.Measure
	}
	set := func(r *rowView) {
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

// --- email ---

type emailView struct {
	page
	Campaigns []stats.Campaign
	Since     time.Time
}

func (d *Dashboards) since() time.Time {
	return d.opts.Now().Add(-d.opts.Retention).UTC().Truncate(time.Hour)
}

func (d *Dashboards) emailPage(c *fiber.Ctx) error {
	s := scopeOf(c)
	cs, err := d.stats.Campaigns(c.UserContext(), s.Site.Domain, d.since(), 200)
	if err != nil {
		return d.failed(c, err)
	}
	return d.render(c, fiber.StatusOK, "email", emailView{page: d.newPage(c, s.Site.Domain+" · Email"), Campaigns: cs, Since: d.since()})
}

type emailCard struct {
	stats.Dimension
	Rows   []emailRowView
	Other  *emailRowView
	Folded int64
	CSV    string
}

type emailRowView struct {
	Label string
	stats.EmailCounts
	Share float64
}

type campaignView struct {
	page
	Campaign stats.Campaign
	Chart    any
	Cards    []emailCard
	K        int
	Zone     string
}

// campaignRange covers a campaign from its first send (the site's local
// day) to its last counter, capped at now.
func (d *Dashboards) campaignRange(cp stats.Campaign, loc *time.Location) (stats.Range, stats.Interval) {
	f := cp.First.In(loc)
	start := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc).UTC().Truncate(time.Hour)
	end := cp.Last.Add(time.Hour)
	if cap := d.opts.Now().Truncate(time.Hour).Add(time.Hour); end.After(cap) {
		end = cap
	}
	if !end.After(start) {
		end = start.Add(time.Hour)
	}
	iv := stats.Daily
	if end.Sub(start) <= 48*time.Hour {
		iv = stats.Hourly
	}
	return stats.Range{Start: start, End: end}, iv
}

func (d *Dashboards) campaignPage(c *fiber.Ctx) error {
	s := scopeOf(c)
	name := strings.Clone(c.Params("campaign"))
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	ctx := c.UserContext()
	cp, ok, err := d.stats.Campaign(ctx, s.Site.Domain, name, d.since())
	if err != nil {
		return d.failed(c, err)
	}
	if !ok {
		return d.renderError(c, fiber.StatusNotFound, "This campaign has no sends or opens yet.")
	}
	r, iv := d.campaignRange(cp, s.Site.Location)
	var series []stats.EmailPoint
	bds := make([]stats.EmailBreakdown, len(stats.EmailDimensions))
	fs := []func() error{func() (err error) {
		series, err = d.stats.CampaignSeries(ctx, s.Site.Domain, name, r, iv, s.Site.Location)
		return
	}}
	for i, dim := range stats.EmailDimensions {
		fs = append(fs, func() (err error) {
			bds[i], err = d.stats.CampaignBreakdown(ctx, s.Site.Domain, name, dim.Name, d.since(), 10, s.Site.MinCountK)
			return
		})
	}
	if err := parallel(fs...); err != nil {
		return d.failed(c, err)
	}
	v := campaignView{page: d.newPage(c, name+" · "+s.Site.Domain), Campaign: cp, K: s.Site.MinCountK, Zone: s.Site.Location.String()}
	pts := make([]chartPoint, len(series))
	for i, p := range series {
		label, title := p.Start.Format("Jan 2"), p.Start.Format("Mon Jan 2")
		if iv == stats.Hourly {
			label, title = p.Start.Format("15:04"), p.Start.Format("Mon Jan 2 15:04")
		}
		pts[i] = chartPoint{Label: label, Title: title + ": " + formatInt(p.Opens) + " opens, " + formatInt(p.UniqueOpens) + " unique opens",
			Bar: p.Opens, Line: p.UniqueOpens}
	}
	v.Chart = svgChart(pts, "Opens", "Unique opens")
	for i, dim := range stats.EmailDimensions {
		b := bds[i]
		ec := emailCard{Dimension: dim, Folded: b.Folded,
			CSV: s.Base + "/email/" + url.PathEscape(name) + "/csv/" + dim.Name}
		var top int64 = 1
		for _, r := range b.Rows {
			top = maxInt(top, r.UniqueOpens)
		}
		for _, r := range b.Rows {
			ec.Rows = append(ec.Rows, emailRowView{Label: valueLabel(dim.Name, r.Value), EmailCounts: r.EmailCounts,
				Share: float64(r.UniqueOpens) / float64(top) * 100})
		}
		if b.Other != nil {
			ec.Other = &emailRowView{Label: stats.OtherValue, EmailCounts: b.Other.EmailCounts}
		}
		v.Cards = append(v.Cards, ec)
	}
	return d.render(c, fiber.StatusOK, "campaign", v)
}

// --- share links ---

type shareView struct {
	page
	Links  []share.Link
	NewURL string
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
	return d.render(c, fiber.StatusOK, "share", shareView{page: d.newPage(c, s.Site.Domain+" · Sharing"), Links: links, NewURL: newURL})
}

func (d *Dashboards) shareCreate(c *fiber.Ctx) error {
	s := scopeOf(c)
	label := strings.TrimSpace(c.FormValue("label"))
	if len(label) > 100 {
		return d.renderError(c, fiber.StatusBadRequest, "The label is too long (100 characters at most).")
	}
	token, _, err := d.shares.Create(c.UserContext(), s.Site.Domain, strings.Clone(label))
	if err != nil {
		return d.failed(c, err)
	}
	// The token is shown this once; only its hash is stored.
	return d.renderShares(c, c.BaseURL()+"/share/"+token)
}

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
