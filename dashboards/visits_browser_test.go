package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gofiber/fiber/v2"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/collector"
	"tally/collector/clientip"
	"tally/collector/metrics"
	"tally/dashboards"
	"tally/internal/chtest"
	"tally/internal/testpipe"
	"tally/sites"
)

// desktopUA is a normal desktop browser's user agent: headless Chromium's
// own says HeadlessChrome, which is rightly filtered as a bot.
const desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

// browserRig is the collector (with the dashboards) on a real ClickHouse,
// a web server for the site's pages under shop.test and an outside site
// under other.test (both resolved to loopback by Chromium), and a
// Chromium tab.
type browserRig struct {
	t          *testing.T
	agg        *aggregator.Aggregator
	collector  string // http://collector.test:port
	dash       string // http://127.0.0.1:port, for the dashboards
	shop       string // http://shop.test:port
	other      string // http://other.test:port
	ctx        context.Context
	tab        *chromedp.Target
	spare      context.Context   // another tab of the window, to hide the first behind
	pages      map[string]string // path -> HTML body (shop.test)
	headScript string            // the tracker's tag, in every page of shop.test
	files      map[string]string // path -> JavaScript file served by shop.test
}

func newBrowserRig(t *testing.T) *browserRig {
	t.Helper()
	chromium := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx := context.Background()
	chURL, _ := chtest.Database(t)
	sink, err := clickhouse.Open(ctx, clickhouse.Options{URL: chURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	if err := sink.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	pipe := testpipe.New(t, testpipe.Options{Sink: sink, Aggregator: func(o *aggregator.Options) { o.FlushInterval = time.Hour }})
	// k = 0: the admin's own view is unfolded, so every figure of the
	// script shows as it is.
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"shop.test","min_count_k":0}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dashboards.New(dashboards.Options{Conn: sink.Conn(), Sites: reg, AdminPassword: password})
	if err != nil {
		t.Fatal(err)
	}
	app, err := collector.New(collector.Options{Sites: reg, Pipeline: pipe.Pipeline, Proxies: clientip.NewResolver(netipPrefixes(t, "127.0.0.1/32")),
		Metrics: metrics.New(metrics.Gauges{}), Mount: []func(fiber.Router){d.Register}, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(cln)
	t.Cleanup(func() { app.Shutdown() })

	r := &browserRig{t: t, agg: pipe.Aggregator, pages: map[string]string{}, files: map[string]string{}}
	bctx := r.start(ctx, chromium, cln, r.serve, chromedp.Flag("accept-lang", "de-DE,de"))
	spare, cancel := chromedp.NewContext(bctx, chromedp.WithNewWindow(false))
	t.Cleanup(cancel)
	if err := chromedp.Do(spare, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	r.spare = spare
	r.front() // focused, as a person's active tab is
	return r
}

// start serves shop.test and other.test with handler, names the collector
// (listening on cln) and opens Chromium on a blank tab with a person's
// desktop agent, plus extra options: what every browser rig shares.
func (r *browserRig) start(ctx context.Context, chromium string, cln net.Listener, handler http.HandlerFunc,
	extra ...chromedp.ExecAllocatorOption) context.Context {
	t := r.t
	t.Helper()
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(sln)
	t.Cleanup(func() { srv.Close() })
	cport, sport := cln.Addr().(*net.TCPAddr).Port, sln.Addr().(*net.TCPAddr).Port
	r.collector = fmt.Sprintf("http://collector.test:%d", cport)
	r.dash = fmt.Sprintf("http://127.0.0.1:%d", cport)
	r.shop = fmt.Sprintf("http://shop.test:%d", sport)
	r.other = fmt.Sprintf("http://other.test:%d", sport)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserAgent(desktopUA),
		// Not driven, as far as pages can tell: navigator.webdriver stays
		// false (Plausible's tracker sends nothing otherwise).
		chromedp.Flag("disable-blink-features", "AutomationControlled"),
		chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"),
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(ctx, append(opts, extra...)...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	r.ctx, r.tab = bctx, chromedp.FromContext(bctx).Target
	return bctx
}

// serve is the web server of both hosts: shop.test's pages carry the
// tracker; other.test/ref links to the shop.
func (r *browserRig) serve(w http.ResponseWriter, req *http.Request) {
	host, _, _ := strings.Cut(req.Host, ":")
	if js, ok := r.files[req.URL.Path]; ok {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, js)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if host == "other.test" {
		fmt.Fprintf(w, `<!doctype html><title>elsewhere</title><p id="elsewhere">Elsewhere. <a id="to-c" href="%s/c">The shop</a></p>`, r.shop)
		return
	}
	path := req.URL.Path
	if strings.HasPrefix(path, "/app/") {
		path = "/app"
	}
	body, ok := r.pages[path]
	if !ok {
		http.NotFound(w, req)
		return
	}
	fmt.Fprintf(w, `<!doctype html><html><head><title>%s</title>%s</head><body>%s
<div style="height:4000px"></div><p id="bottom">end</p></body></html>`, path, r.headScript, body)
}

// js evaluates expr in the tab.
func js[T any](r *browserRig, expr string) T {
	r.t.Helper()
	v, err := chromedp.Run(r.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		r.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitPath waits until the tab shows path (on any host) with its tracker
// started (ready is a JavaScript condition; "" for pages without one).
func (r *browserRig) waitPath(path, ready string) {
	r.t.Helper()
	cond := `location.pathname === ` + jsString(path) + ` && document.readyState === "complete"`
	if ready != "" {
		cond += " && " + ready
	}
	deadline := time.Now().Add(15 * time.Second)
	for !js[bool](r, cond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the tab did not reach %s (at %s)", path, js[string](r, "location.href"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// open navigates the tab as a typed address does: no referrer.
func (r *browserRig) open(u string) {
	r.t.Helper()
	if err := chromedp.Do(r.ctx, chromedp.Navigate(u)); err != nil {
		r.t.Fatalf("navigate to %s: %v", u, err)
	}
}

// leave leaves the page for another site, as a link there would (one
// round trip: the time on page counts until the page is gone).
func (r *browserRig) leave() {
	r.t.Helper()
	js[bool](r, `location.href = `+jsString(r.other+"/")+`, true`)
	r.waitPath("/", "")
}

// click clicks the element of id: in the page (one round trip, where a
// clicked mouse takes several, which the time on page would count).
func (r *browserRig) click(id string) {
	r.t.Helper()
	js[bool](r, `document.getElementById(`+jsString(id)+`).click(), true`)
}

// front brings the tab to the front: visible and focused.
func (r *browserRig) front() {
	r.t.Helper()
	if _, err := cdp.Call(r.ctx, r.tab, page.BringToFront, cdp.Empty{}); err != nil {
		r.t.Fatal(err)
	}
}

// hide puts another tab of the window in front for d: the page is hidden
// and loses focus, then is shown and focused again.
func (r *browserRig) hide(d time.Duration) {
	r.t.Helper()
	if _, err := cdp.Call(r.spare, chromedp.FromContext(r.spare).Target, page.BringToFront, cdp.Empty{}); err != nil {
		r.t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if v := js[string](r, "document.visibilityState"); v != "hidden" {
		r.t.Fatalf("the page is %s behind another tab", v)
	}
	time.Sleep(d - 50*time.Millisecond)
	r.front()
}

// flush waits for the last reports and writes the counters to ClickHouse.
func (r *browserRig) flush() {
	r.t.Helper()
	r.open("about:blank")
	time.Sleep(time.Second) // beacons of the last page
	if err := r.agg.Flush(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// signIn signs the tab in to the dashboards and returns the session
// cookie for API reads.
func (r *browserRig) signIn() string {
	r.t.Helper()
	form := url.Values{"user": {"admin"}, "password": {password}, "next": {"/"}}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(r.dash+"/login", form)
	if err != nil {
		r.t.Fatal(err)
	}
	res.Body.Close()
	cookie := strings.Split(res.Header.Get("Set-Cookie"), ";")[0]
	if cookie == "" {
		r.t.Fatalf("sign-in: %d", res.StatusCode)
	}
	if err := chromedp.Do(r.ctx,
		chromedp.Navigate(r.dash+"/login"),
		chromedp.WaitVisible(`input[name=user]`),
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`.sites`),
	); err != nil {
		r.t.Fatal(err)
	}
	return cookie
}

// api reads the dashboards' JSON API as the admin.
func (r *browserRig) api(cookie, path string, into any) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.dash+path, nil)
	req.Header.Set("Cookie", cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		r.t.Fatalf("%s: %d %s", path, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		r.t.Fatalf("%s: %v: %s", path, err, b)
	}
}

type pathRow struct {
	Value     string `json:"value"`
	Pageviews int64  `json:"pageviews"`
	Visits    int64  `json:"visits"`
	Exits     int64  `json:"exits"`
	Metrics   struct {
		TimeOnPage  *float64 `json:"time_on_page"`
		ScrollDepth *float64 `json:"scroll_depth"`
	} `json:"metrics"`
}

// paths is the path breakdown (by visits, exits or the default).
func (r *browserRig) paths(cookie, by string) map[string]pathRow {
	r.t.Helper()
	var b struct {
		Rows []pathRow `json:"rows"`
	}
	r.api(cookie, "/api/stats/shop.test/breakdown/path?range=today&limit=100&by="+by, &b)
	out := map[string]pathRow{}
	for _, row := range b.Rows {
		out[row.Value] = row
	}
	return out
}

// screenshot saves the page, for the log (and E2E_SCREENSHOT).
func (r *browserRig) screenshot(name string) {
	shot, err := chromedp.Run(r.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		r.t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(r.t.TempDir(), name)
	os.WriteFile(path, shot, 0o644)
	if dir := os.Getenv("E2E_SCREENSHOT_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, name), shot, 0o644)
	}
	r.t.Logf("screenshot: %s", path)
}

// TestGroundTruthInChromium drives Chromium through scripted visits of a
// site that runs our tracker: known entries and bounces, internal links,
// dwell times, a tab hidden and shown, a single-page app. The dashboard
// must show the script's visits, bounce rate, entry and exit pages; time
// on page must be within 10% of the dwell.
func TestGroundTruthInChromium(t *testing.T) {
	r := newBrowserRig(t)
	r.headScript = `<script defer data-domain="shop.test" src="` + r.collector + `/js/script.js"></script>`
	link := func(id, to string) string { return `<a id="` + id + `" href="` + to + `">` + to + `</a> ` }
	r.pages["/a"] = `<h1 id="page">A</h1>` + link("to-b", "/b") + link("to-c", "/c")
	r.pages["/b"] = `<h1 id="page">B</h1>` + link("to-a", "/a")
	r.pages["/c"] = `<h1 id="page">C</h1>` + link("to-a", "/a")
	r.pages["/app"] = `<h1 id="page">App</h1>
<button id="to-x" onclick="history.pushState({}, '', '/app/x')">x</button>
<button id="to-y" onclick="history.pushState({}, '', '/app/y')">y</button>`
	tracked := "typeof window.tally === 'function'"
	spaAt := func(path string) string { return "location.pathname === " + jsString(path) }

	// The script, and what it must show. Dwell times are engaged time: the
	// page visible and focused.
	const (
		dwellA1 = 3000 * time.Millisecond // visit 1: /a, then away: a bounce
		dwellC  = 2000 * time.Millisecond // visit 2: from other.test to /c
		dwellA2 = 1500 * time.Millisecond //   /a: 1.5 s, hidden 2 s, 1.5 s
		hiddenA = 2000 * time.Millisecond
		dwellB1 = 2500 * time.Millisecond //   /b, then away
		dwellAp = 2000 * time.Millisecond // visit 3: the app, /app
		dwellX  = 2500 * time.Millisecond //   /app/x (SPA)
		dwellY  = 2000 * time.Millisecond //   /app/y (SPA), then away
		dwellB2 = 2000 * time.Millisecond // visit 4: /b, scrolled down, away: a bounce
	)
	// The harness's own latency (a navigation, a click, the wait for the
	// tracker) adds to the time a page is really shown, by tens of
	// milliseconds on an idle machine and by hundreds under -race on a
	// loaded one: each page's slack is the time of the actions that
	// brought the tab to it and took it away, measured, so that the real
	// dwell is known to lie between the sleep and the sleep plus slack.
	slack := map[string]time.Duration{}
	cur := ""
	goTo := func(path string, act func(), wait string) {
		t0 := time.Now()
		act()
		r.waitPath(path, wait)
		d := time.Since(t0)
		slack[cur] += d
		slack[path] += d
		cur = path
	}
	leave := func() {
		t0 := time.Now()
		r.leave()
		slack[cur] += time.Since(t0)
		cur = ""
	}
	hide := func(d time.Duration) {
		t0 := time.Now()
		r.hide(d)
		slack[cur] += time.Since(t0) - d
	}
	open := func(url string) func() { return func() { r.open(url) } }
	click := func(id string) func() { return func() { r.click(id) } }
	start := time.Now()
	// Visit 1.
	goTo("/a", open(r.shop+"/a"), tracked)
	time.Sleep(dwellA1)
	leave()
	// Visit 2.
	goTo("/ref", open(r.other+"/ref"), "")
	goTo("/c", click("to-c"), tracked)
	time.Sleep(dwellC)
	goTo("/a", click("to-a"), tracked)
	time.Sleep(dwellA2)
	hide(hiddenA)
	time.Sleep(dwellA2)
	goTo("/b", click("to-b"), tracked)
	time.Sleep(dwellB1)
	leave()
	// Visit 3.
	goTo("/app", open(r.shop+"/app"), tracked)
	time.Sleep(dwellAp)
	goTo("/app/x", click("to-x"), spaAt("/app/x"))
	time.Sleep(dwellX)
	goTo("/app/y", click("to-y"), spaAt("/app/y"))
	time.Sleep(dwellY)
	leave()
	// Visit 4.
	goTo("/b", open(r.shop+"/b"), tracked)
	js[bool](r, `window.scrollTo(0, document.body.scrollHeight); true`)
	time.Sleep(dwellB2)
	leave()
	r.flush()
	t.Logf("script ran %v", time.Since(start).Round(time.Millisecond))

	cookie := r.signIn()
	if err := chromedp.Do(r.ctx, chromedp.Navigate(r.dash+"/sites/shop.test?range=today"), chromedp.WaitVisible(`[data-kpi=visits]`)); err != nil {
		t.Fatal(err)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(r.ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return strings.Join(strings.Fields(s), " ")
	}
	visits, bounce, views := text(`[data-kpi=visits]`), text(`[data-kpi=bounce-rate]`), text(`[data-kpi=pageviews]`)
	entryCard, exitCard := text(`#entry tbody`), text(`#exit tbody`)
	r.screenshot("ground-truth-dashboard.png")
	t.Logf("dashboard: visits %s, bounce rate %s, page views %s, views per visit %s, visit duration %s",
		visits, bounce, views, text(`[data-kpi=views-per-visit]`), text(`[data-kpi=visit-duration]`))
	t.Logf("entry pages: %s", entryCard)
	t.Logf("exit pages: %s", exitCard)
	if visits != "4" || bounce != "50.0%" || views != "8" {
		t.Errorf("dashboard: %s visits, bounce rate %s, %s page views; the script made 4 visits, 2 bounces, 8 page views", visits, bounce, views)
	}
	for _, want := range []string{"/a 1", "/c 1", "/app 1", "/b 1"} {
		if !strings.Contains(entryCard+" ", want+" ") {
			t.Errorf("entry pages %q lack %q", entryCard, want)
		}
	}
	for _, want := range []string{"/b 2", "/a 1", "/app/y 1"} {
		if !strings.Contains(exitCard+" ", want+" ") {
			t.Errorf("exit pages %q lack %q", exitCard, want)
		}
	}

	// The same through the API, and time on page per path.
	entries, exits, all := r.paths(cookie, "visits"), r.paths(cookie, "exits"), r.paths(cookie, "")
	wantEntries := map[string]int64{"/a": 1, "/c": 1, "/app": 1, "/b": 1}
	wantExits := map[string]int64{"/a": 1, "/b": 2, "/app/y": 1}
	for _, p := range []string{"/a", "/b", "/c", "/app", "/app/x", "/app/y"} {
		if entries[p].Visits != wantEntries[p] || all[p].Exits != wantExits[p] {
			t.Errorf("%s: %d entries, %d exits; want %d and %d", p, entries[p].Visits, all[p].Exits, wantEntries[p], wantExits[p])
		}
		if _, listed := exits[p]; listed != (wantExits[p] > 0) {
			t.Errorf("%s listed among exit pages: %v", p, listed)
		}
	}
	dwell := map[string]time.Duration{
		"/a": (dwellA1 + 2*dwellA2) / 2, "/b": (dwellB1 + dwellB2) / 2, "/c": dwellC,
		"/app": dwellAp, "/app/x": dwellX, "/app/y": dwellY,
	}
	shown := map[string]time.Duration{"/a": 2, "/b": 2, "/c": 1, "/app": 1, "/app/x": 1, "/app/y": 1}
	for p, want := range dwell {
		got := all[p].Metrics.TimeOnPage
		if got == nil {
			t.Errorf("%s: no time on page", p)
			continue
		}
		// Within 10% of the dwell: below the sleep, or above the sleep
		// plus the harness's measured slack (per page view).
		hi := want + slack[p]/shown[p]
		t.Logf("%-7s time on page %.2f s, scripted %.2f s (%+.1f%%), harness slack %.2f s", p, *got, want.Seconds(),
			(*got-want.Seconds())/want.Seconds()*100, (slack[p] / shown[p]).Seconds())
		if *got < 0.9*want.Seconds() || *got > 1.1*hi.Seconds() {
			t.Errorf("%s: time on page %.2f s, scripted dwell %.2f s (%.2f s with the harness's slack): off by more than 10%%",
				p, *got, want.Seconds(), hi.Seconds())
		}
	}
	if sd := all["/b"].Metrics.ScrollDepth; sd == nil || *sd < 55 || *sd > 100 {
		t.Errorf("/b scroll depth %v: one view at the top, one at the bottom", sd)
	}

	var tot struct {
		Current struct {
			Visits  int64 `json:"visits"`
			Metrics struct {
				BounceRate    *float64 `json:"bounce_rate"`
				VisitDuration *float64 `json:"visit_duration"`
				ViewsPerVisit *float64 `json:"views_per_visit"`
			} `json:"metrics"`
		} `json:"current"`
	}
	r.api(cookie, "/api/stats/shop.test/totals?range=today", &tot)
	m := tot.Current.Metrics
	wantDuration := (dwellA1 + dwellC + 2*dwellA2 + dwellB1 + dwellAp + dwellX + dwellY + dwellB2).Seconds() / 4
	if tot.Current.Visits != 4 || m.BounceRate == nil || *m.BounceRate != 0.5 || m.ViewsPerVisit == nil || *m.ViewsPerVisit != 2 ||
		m.VisitDuration == nil || math.Abs(*m.VisitDuration-wantDuration)/wantDuration > 0.10 {
		t.Errorf("API totals: %d visits, bounce rate %v, views per visit %v, visit duration %v (scripted %.2f s)",
			tot.Current.Visits, deref(m.BounceRate), deref(m.ViewsPerVisit), deref(m.VisitDuration), wantDuration)
	}
	var langs struct {
		Rows []struct {
			Value string `json:"value"`
		} `json:"rows"`
	}
	r.api(cookie, "/api/stats/shop.test/breakdown/language?range=today", &langs)
	if len(langs.Rows) != 1 || langs.Rows[0].Value != "de" {
		t.Errorf("languages %+v: the browser asks for de-DE", langs.Rows)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// TestPlausibleTrackerInChromium runs the official Plausible tracker (npm
// @plausible-analytics/tracker) against the collector: its engagement
// events feed time on page and scroll depth, and never show as a custom
// event or a page view.
func TestPlausibleTrackerInChromium(t *testing.T) {
	r := newBrowserRig(t)
	tracker := installPlausible(t)
	r.files["/plausible.js"] = tracker
	r.headScript = `<script type="module">
import { init } from "/plausible.js";
init({ domain: "shop.test", endpoint: "` + r.collector + `/api/event", logging: false });
window.plausibleReady = true;
</script>`
	r.pages["/p1"] = `<h1>One</h1><a id="to-p2" href="/p2">two</a>`
	r.pages["/p2"] = `<h1>Two</h1>`
	const dwell1, dwell2 = 3000 * time.Millisecond, 2000 * time.Millisecond
	r.open(r.shop + "/p1")
	r.waitPath("/p1", "window.plausibleReady === true")
	time.Sleep(dwell1 / 2)
	js[bool](r, `window.scrollTo(0, document.body.scrollHeight); true`)
	time.Sleep(dwell1 / 2)
	r.click("to-p2")
	r.waitPath("/p2", "window.plausibleReady === true")
	time.Sleep(dwell2)
	r.leave()
	r.flush()

	cookie := r.signIn()
	all := r.paths(cookie, "")
	for p, want := range map[string]time.Duration{"/p1": dwell1, "/p2": dwell2} {
		row := all[p]
		if row.Pageviews != 1 {
			t.Errorf("%s: %d page views, want 1 (engagement is not a page view)", p, row.Pageviews)
		}
		got := row.Metrics.TimeOnPage
		if got == nil || math.Abs(*got-want.Seconds())/want.Seconds() > 0.10 {
			t.Errorf("%s: time on page %v, dwell %.1f s", p, deref(got), want.Seconds())
			continue
		}
		t.Logf("%s: time on page %.2f s (dwell %.1f s), scroll depth %v", p, *got, want.Seconds(), deref(row.Metrics.ScrollDepth))
	}
	if sd := all["/p1"].Metrics.ScrollDepth; sd == nil || *sd < 90 {
		t.Errorf("/p1 scrolled to the bottom: scroll depth %v", deref(sd))
	}
	var events struct {
		Rows []struct {
			Value string `json:"value"`
		} `json:"rows"`
	}
	r.api(cookie, "/api/stats/shop.test/breakdown/event?range=today", &events)
	for _, e := range events.Rows {
		if strings.EqualFold(e.Value, "engagement") {
			t.Errorf("a custom event named %q", e.Value)
		}
	}
	var tot struct {
		Current struct {
			Pageviews int64 `json:"pageviews"`
			Visits    int64 `json:"visits"`
		} `json:"current"`
	}
	r.api(cookie, "/api/stats/shop.test/totals?range=today", &tot)
	if tot.Current.Pageviews != 2 || tot.Current.Visits != 1 {
		t.Errorf("totals: %+v, want 2 page views in 1 visit", tot.Current)
	}
}

// installPlausible installs the official tracker with npm into a temporary
// directory and returns its module. The test is skipped, saying so, only
// when npm is missing or cannot fetch the package.
func installPlausible(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: cannot fetch @plausible-analytics/tracker, skipping the Plausible tracker test")
	}
	dir := t.TempDir()
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "@plausible-analytics/tracker")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm could not fetch @plausible-analytics/tracker (%v), skipping the Plausible tracker test:\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@plausible-analytics", "tracker", "plausible.js"))
	if err != nil {
		t.Fatalf("npm installed the tracker without its module: %v", err)
	}
	return string(b)
}
