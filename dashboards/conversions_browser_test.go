package dashboards_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gofiber/fiber/v2"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/collector"
	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/collector/metrics"
	"tally/dashboards"
	"tally/goals"
	"tally/internal/chtest"
	"tally/internal/testpipe"
	"tally/sites"
)

// conversionRig is a browserRig whose site declares props and goals (the
// collector and the dashboards share one goals.Registry, as in
// cmd/collector), with the test database at hand for exact counts. Its
// web server adds to the browserRig's: /missing/* answers 404 with the
// site's page (and tracker), /files/* answers a download.
type conversionRig struct {
	*browserRig
	conn driver.Conn
	db   string
}

func newConversionRig(t *testing.T, sitesFile string) *conversionRig {
	t.Helper()
	chromium := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx := context.Background()
	chURL, conn := chtest.Database(t)
	sink, err := clickhouse.Open(ctx, clickhouse.Options{URL: chURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	if err := sink.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	reg, err := sites.Parse(strings.NewReader(sitesFile))
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]goals.Config{}
	for _, s := range reg.All() {
		declared[s.Domain] = s.Conversions
	}
	conversions := goals.NewRegistry(declared, nil)
	pipe := testpipe.New(t, testpipe.Options{Sink: sink,
		Aggregator: func(o *aggregator.Options) { o.FlushInterval = time.Hour },
		Pipeline:   func(o *ingest.Options) { o.Goals = conversions }})
	d, err := dashboards.New(dashboards.Options{Conn: sink.Conn(), Sites: reg, AdminPassword: password, Goals: conversions})
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
	r.start(ctx, chromium, cln, func(w http.ResponseWriter, req *http.Request) {
		switch {
		case strings.HasPrefix(req.URL.Path, "/missing/"):
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `<!doctype html><html><head><title>Not found</title>%s</head><body><h1>Not found</h1></body></html>`, r.headScript)
		case strings.HasPrefix(req.URL.Path, "/files/"):
			// A download: the browser stays on the page that linked it.
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", "attachment")
			io.WriteString(w, "file")
		default:
			r.serve(w, req)
		}
	})
	r.front()
	return &conversionRig{browserRig: r, conn: conn, db: chtest.DB(conn)}
}

// count is a web_counters row of the site, summed over the hours.
type count struct{ Hits, Pageviews, Revenue, EngagedViews int64 }

// counts reads every web_counters row of shop.test, by "dimension|value".
func (c *conversionRig) counts() map[string]count {
	c.t.Helper()
	rows, err := c.conn.Query(context.Background(), `SELECT dimension, value, sum(hits), sum(pageviews), sum(revenue), sum(engaged_views)
		FROM `+c.db+`.web_counters WHERE site = 'shop.test' GROUP BY dimension, value`)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]count{}
	for rows.Next() {
		var dim, val string
		var n count
		if err := rows.Scan(&dim, &val, &n.Hits, &n.Pageviews, &n.Revenue, &n.EngagedViews); err != nil {
			c.t.Fatal(err)
		}
		out[dim+"|"+val] = n
	}
	if err := rows.Err(); err != nil {
		c.t.Fatal(err)
	}
	return out
}

// expectRows checks that the rows of dimension dim are exactly want
// (value -> hits), and logs them.
func expectRows(t *testing.T, got map[string]count, dim string, want map[string]int64) {
	t.Helper()
	have := map[string]int64{}
	for k, n := range got {
		if d, v, _ := strings.Cut(k, "|"); d == dim {
			have[v] = n.Hits
		}
	}
	var lines []string
	for v, n := range have {
		lines = append(lines, fmt.Sprintf("%q %d", v, n))
	}
	sort.Strings(lines)
	t.Logf("%s rows: %s", dim, strings.Join(lines, ", "))
	for v, n := range want {
		if have[v] != n {
			t.Errorf("%s %q: %d hits, want %d", dim, v, have[v], n)
		}
	}
	for v, n := range have {
		if _, ok := want[v]; !ok {
			t.Errorf("%s %q: %d hits, want no such row", dim, v, n)
		}
	}
}

// scanStrings reads every String column of every table of the test
// database and reports each value holding a needle. It fails the test when
// the scan would prove nothing (too few columns or values).
func (c *conversionRig) scanStrings(needles []string) {
	c.t.Helper()
	ctx := context.Background()
	rows, err := c.conn.Query(ctx, "SELECT table, name FROM system.columns WHERE database = '"+c.db+"' AND type LIKE '%String%'")
	if err != nil {
		c.t.Fatal(err)
	}
	var cols [][2]string
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			c.t.Fatal(err)
		}
		cols = append(cols, [2]string{table, col})
	}
	rows.Close()
	scanned := 0
	for _, tc := range cols {
		vals, err := c.conn.Query(ctx, "SELECT toString(`"+tc[1]+"`) FROM "+c.db+".`"+tc[0]+"`")
		if err != nil {
			c.t.Fatal(err)
		}
		for vals.Next() {
			var v string
			if err := vals.Scan(&v); err != nil {
				c.t.Fatal(err)
			}
			scanned++
			for _, n := range needles {
				if strings.Contains(strings.ToLower(v), strings.ToLower(n)) {
					c.t.Errorf("%s.%s holds %q (needle %q)", tc[0], tc[1], v, n)
				}
			}
		}
		vals.Close()
	}
	c.t.Logf("privacy scan: %d values in %d String columns", scanned, len(cols))
	if len(cols) < 5 || scanned < 50 {
		c.t.Fatalf("the scan read only %d values in %d String columns: it would prove nothing", scanned, len(cols))
	}
}

// TestOurTrackerConversionsInChromium drives our tracker in Chromium
// through every automatic event (outbound link, file download, form
// submission, 404), tagged events, hash-based routing and tally() calls
// with props and revenue (one queued before the script loads), and checks
// the exact rows in ClickHouse: events, props (allow-listed, and the
// automatic events' built-in ones reduced), goals, goal props, revenue
// and hash paths. Links that leave the page must still deliver their
// event.
func TestOurTrackerConversionsInChromium(t *testing.T) {
	c := newConversionRig(t, `{"sites":[{"domain":"shop.test","min_count_k":0,
		"props":["plan"],
		"goals":[{"event":"Signup"},{"event":"Purchase"},{"event":"Subscribe"},{"event":"Outbound Link: Click"},
			{"event":"File Download"},{"event":"Form: Submission"},{"event":"404"},
			{"name":"Thanks","path":"/thanks"},{"name":"About","path":"/app#/about"}]}]}`)
	script := func(attrs string) string {
		return `<script defer data-domain="shop.test" ` + attrs + ` src="` + c.collector + `/js/script.js"></script>`
	}
	c.headScript = script(`data-outbound-links data-file-downloads data-form-submissions data-404`)
	const (
		coupon   = "coupon_code" // a prop the site does not keep, and its value
		couponV  = "cpn5k2vq"
		outQuery = "tok7f3e9w" // in the query of an outbound link
		dlQuery  = "sigq9x4m"  // in the query of a download
		tagURL   = "/partner-page-8d2"
	)
	c.pages["/shop"] = `<h1>Shop</h1>
<script>window.tally = window.tally || function () { (tally.q = tally.q || []).push(arguments) };
tally("Purchase", {props: {plan: "team"}, revenue: {amount: 30, currency: "USD"}});</script>`
	c.pages["/a"] = `<h1>A</h1>
<a id="out" href="` + c.other + `/landing?ref=` + outQuery + `">partner</a>
<a id="dl" href="/files/report.pdf?sig=` + dlQuery + `">report</a>
<a id="dl-upper" href="/files/Data.ZIP">data</a>
<a id="notes" href="/files/notes.md">notes</a>
<a id="frag" href="#faq">FAQ</a>
<button id="signup" class="tally-event-name=Signup tally-event-plan=pro">Sign up</button>
<button class="tally-event-name=Signup tally-event-plan=team"><span>Sign <b id="signup-nested">up</b></span></button>
<a id="tagged-out" class="tally-event-name=Partner+Click tally-event-plan=pro" href="` + c.other + tagURL + `">tagged</a>
<button id="buy" onclick='tally("Purchase", {props: {plan: "pro", ` + coupon + `: "` + couponV + `"}, revenue: {amount: "12.50", currency: "EUR"},
  callback: function (r) { window.buyStatus = r && r.status }})'>Buy</button>
<form action="/thanks" method="post"><input id="q" name="q" required><button id="send">Send</button></form>
<form action="/thanks" method="post"><button type="button" id="upgrade" class="tally-event-name=Upgrade">Upgrade</button></form>
<form class="tally-event-name=Subscribe tally-event-plan=team" action="/thanks" method="post"><button id="subscribe">Subscribe</button></form>`
	c.pages["/b"] = `<h1>B</h1>`
	c.pages["/thanks"] = `<h1>Thanks</h1>`
	c.pages["/app"] = `<h1>App</h1>`
	ready := "typeof window.tally.notFound === 'function'"
	settle := func() { time.Sleep(150 * time.Millisecond) } // a beacon's way out

	// A call queued before the script loads: sent once it runs.
	c.open(c.shop + "/shop")
	c.waitPath("/shop", ready+" && !window.tally.q")
	// Clicks that stay on the page.
	c.open(c.shop + "/a")
	c.waitPath("/a", ready)
	// A tagged button in an untagged form sends on click (the form's
	// submit would not: the form is not tagged).
	for _, id := range []string{"notes", "dl", "dl-upper", "frag", "signup", "signup-nested", "buy", "upgrade"} {
		c.click(id)
		settle()
	}
	if s := js[string](c.browserRig, `location.pathname + location.hash`); s != "/a#faq" {
		t.Fatalf("after the clicks the tab shows %s, want /a#faq (downloads leave the page where it is)", s)
	}
	deadline := time.Now().Add(5 * time.Second)
	for js[any](c.browserRig, "window.buyStatus ?? null") == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := js[any](c.browserRig, "window.buyStatus ?? null"); st != float64(202) {
		t.Errorf("tally's callback had status %v, want 202", st)
	}
	// A middle click on an outbound link counts (a new tab); a right
	// click does not.
	js[bool](c.browserRig, `document.getElementById("out").dispatchEvent(new MouseEvent("auxclick", {bubbles: true, button: 1})), true`)
	js[bool](c.browserRig, `document.getElementById("out").dispatchEvent(new MouseEvent("auxclick", {bubbles: true, button: 2})), true`)
	// An invalid form is not submitted: nothing.
	c.click("send")
	settle()
	// A tagged form: its event, not "Form: Submission"; then the page is left.
	c.click("subscribe")
	c.waitPath("/thanks", ready)
	// A form, submitted: the page is left at once.
	c.open(c.shop + "/a")
	c.waitPath("/a", ready)
	js[bool](c.browserRig, `document.getElementById("q").value = "hello", true`)
	c.click("send")
	c.waitPath("/thanks", ready)
	// Links that leave for another site at once.
	c.open(c.shop + "/a")
	c.waitPath("/a", ready)
	c.click("out")
	c.waitPath("/landing", "")
	c.open(c.shop + "/a")
	c.waitPath("/a", ready)
	c.click("tagged-out")
	c.waitPath(tagURL, "")
	// A 404 page, and a page that is not one.
	c.open(c.shop + "/missing/page")
	c.waitPath("/missing/page", ready)
	c.open(c.shop + "/b")
	c.waitPath("/b", ready)
	// Hash-based routing: each fragment a page, back included.
	c.headScript = script(`data-hash`)
	c.open(c.shop + "/app#/home")
	c.waitPath("/app", ready)
	js[bool](c.browserRig, `location.hash = "#/about", true`)
	settle()
	js[bool](c.browserRig, `history.back(), true`)
	deadline = time.Now().Add(5 * time.Second)
	for js[string](c.browserRig, "location.hash") != "#/home" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	settle()
	c.flush()

	got := c.counts()
	expectRows(t, got, "event", map[string]int64{
		"Purchase": 2, "File Download": 2, "Signup": 2, "Outbound Link: Click": 2,
		"Subscribe": 1, "Form: Submission": 1, "Partner Click": 1, "404": 1, "Upgrade": 1,
	})
	pageviews := map[string]int64{}
	for k, n := range got {
		if p, ok := strings.CutPrefix(k, "path|"); ok {
			pageviews[p] = n.Pageviews
		}
	}
	t.Logf("page views by path: %v", pageviews)
	for p, want := range map[string]int64{"/shop": 1, "/a": 4, "/thanks": 2, "/missing/page": 1, "/b": 1,
		"/app#/home": 2, "/app#/about": 1, "/app": 0, "/a#faq": 0} {
		if pageviews[p] != want {
			t.Errorf("path %s: %d page views, want %d", p, pageviews[p], want)
		}
	}
	// The engagement reports of hash pages (h: 1 too) land on them.
	for p, want := range map[string]int64{"/app#/home": 2, "/app#/about": 1} {
		if n := got["path|"+p].EngagedViews; n != want {
			t.Errorf("path %s: engagement reported for %d page views, want %d", p, n, want)
		}
	}
	expectRows(t, got, "prop", map[string]int64{
		"Purchase\tplan\tteam": 1, "Purchase\tplan\tpro": 1,
		"Signup\tplan\tpro": 1, "Signup\tplan\tteam": 1,
		"Subscribe\tplan\tteam":                 1,
		"Partner Click\tplan\tpro":              1, // its url is no built-in prop of a tagged event: dropped
		"Outbound Link: Click\turl\tother.test": 2,
		"File Download\turl\t/files/report.pdf": 1, "File Download\text\tpdf": 1,
		"File Download\turl\t/files/Data.ZIP": 1, "File Download\text\tzip": 1,
		"Form: Submission\tpath\t/a": 1,
		"404\tpath\t/missing/page":   1,
	})
	expectRows(t, got, "goal", map[string]int64{
		"Signup": 2, "Purchase": 2, "Subscribe": 1, "Outbound Link: Click": 2, "File Download": 2,
		"Form: Submission": 1, "404": 1, "Thanks": 2, "About": 1,
	})
	expectRows(t, got, "goal_prop", map[string]int64{
		"Purchase\tplan\tteam": 1, "Purchase\tplan\tpro": 1,
		"Signup\tplan\tpro": 1, "Signup\tplan\tteam": 1,
		"Subscribe\tplan\tteam":                 1,
		"Outbound Link: Click\turl\tother.test": 2,
		"File Download\turl\t/files/report.pdf": 1, "File Download\text\tpdf": 1,
		"File Download\turl\t/files/Data.ZIP": 1, "File Download\text\tzip": 1,
		"Form: Submission\tpath\t/a": 1,
		"404\tpath\t/missing/page":   1,
	})
	expectRows(t, got, "revenue", map[string]int64{"Purchase\tUSD": 1, "Purchase\tEUR": 1})
	if n := got["revenue|Purchase\tUSD"].Revenue; n != 30_000_000 {
		t.Errorf("revenue Purchase USD: %d micro-units, want 30,000,000", n)
	}
	if n := got["revenue|Purchase\tEUR"].Revenue; n != 12_500_000 {
		t.Errorf("revenue Purchase EUR: %d micro-units, want 12,500,000", n)
	}
	c.scanStrings([]string{coupon, couponV, outQuery, dlQuery, "landing", tagURL})
}

// TestPlausibleConversionsInChromium runs the official Plausible tracker
// (npm @plausible-analytics/tracker) with outboundLinks, fileDownloads,
// formSubmissions and custom props, some allow-listed by the site and some
// not: the allow-listed ones are counted, the others are stored nowhere
// (every String column of every table is scanned for their names and
// values), and the automatic events count as their goals.
func TestPlausibleConversionsInChromium(t *testing.T) {
	c := newConversionRig(t, `{"sites":[{"domain":"shop.test","min_count_k":0,
		"props":["plan"],
		"goals":[{"event":"Signup"},{"event":"Outbound Link: Click"},{"event":"File Download"},{"event":"Form: Submission"}]}]}`)
	c.files["/plausible.js"] = installPlausible(t)
	const (
		authorName = "author_mail" // kept by no site: on every event
		authorVal  = "needle-author-xq"
		refName    = "referral_code" // on the Signup event only
		refVal     = "needle-ref-w8"
		sigVal     = "needle-sig-k3" // in the query of a download link
		tokVal     = "needle-tok-z5" // in the query of an outbound link
	)
	c.headScript = `<script type="module">
import { init, track } from "/plausible.js";
init({ domain: "shop.test", endpoint: "` + c.collector + `/api/event", logging: false,
  outboundLinks: true, fileDownloads: true, formSubmissions: true,
  customProperties: { plan: "pro", ` + authorName + `: "` + authorVal + `" } });
window.track = track;
window.plausibleReady = true;
</script>`
	c.pages["/p1"] = `<h1>One</h1>
<a id="dl" href="/files/guide.pdf?sig=` + sigVal + `">guide</a>
<button id="signup" onclick='track("Signup", {props: {plan: "team", ` + refName + `: "` + refVal + `"}})'>Sign up</button>
<form action="/p2" method="post"><button id="send">Send</button></form>
<a id="out" href="` + c.other + `/partner?token=` + tokVal + `">partner</a>`
	c.pages["/p2"] = `<h1>Two</h1>`
	ready := "window.plausibleReady === true"

	c.open(c.shop + "/p1")
	c.waitPath("/p1", ready)
	c.click("dl")
	time.Sleep(150 * time.Millisecond)
	c.click("signup")
	time.Sleep(150 * time.Millisecond)
	c.click("send")
	c.waitPath("/p2", ready)
	c.open(c.shop + "/p1")
	c.waitPath("/p1", ready)
	c.click("out")
	c.waitPath("/partner", "")
	c.flush()

	got := c.counts()
	expectRows(t, got, "event", map[string]int64{
		"Signup": 1, "File Download": 1, "Form: Submission": 1, "Outbound Link: Click": 1,
	})
	if n := got["total|"].Pageviews; n != 3 {
		t.Errorf("%d page views, want 3", n)
	}
	expectRows(t, got, "goal", map[string]int64{
		"Signup": 1, "File Download": 1, "Form: Submission": 1, "Outbound Link: Click": 1,
	})
	// The allow-listed prop on every page view and event (the event's own
	// value over customProperties), and the automatic events' built-in
	// props, reduced.
	want := map[string]int64{
		"pageview\tplan\tpro": 3, "Signup\tplan\tteam": 1,
		"File Download\tplan\tpro": 1, "Form: Submission\tplan\tpro": 1, "Outbound Link: Click\tplan\tpro": 1,
		"Outbound Link: Click\turl\tother.test": 1,
		"File Download\turl\t/files/guide.pdf":  1, "File Download\text\tpdf": 1,
	}
	expectRows(t, got, "prop", want)
	if n := got["prop|pageview\tplan\tpro"].Pageviews; n != 3 {
		t.Errorf("prop pageview plan pro: %d page views, want 3", n)
	}
	// The same under each goal, page views aside.
	delete(want, "pageview\tplan\tpro")
	expectRows(t, got, "goal_prop", want)
	c.scanStrings([]string{authorName, authorVal, refName, refVal, sigVal, tokVal})
}

// TestOurTrackerEventsAreOptInChromium checks that without their data-
// attributes our tracker sends no automatic event (page views only), and
// that data-file-downloads="md,epub" replaces Plausible's extensions.
func TestOurTrackerEventsAreOptInChromium(t *testing.T) {
	c := newConversionRig(t, `{"sites":[{"domain":"shop.test","min_count_k":0}]}`)
	script := func(attrs string) string {
		return `<script defer data-domain="shop.test" ` + attrs + ` src="` + c.collector + `/js/script.js"></script>`
	}
	c.pages["/a"] = `<h1>A</h1>
<a id="out" href="` + c.other + `/landing">partner</a>
<a id="pdf" href="/files/report.pdf">report</a>
<a id="md" href="/files/notes.md">notes</a>
<form action="/thanks" method="post"><button id="send">Send</button></form>`
	c.pages["/thanks"] = `<h1>Thanks</h1>`
	c.pages["/app"] = `<h1>App</h1>`
	ready := "typeof window.tally.notFound === 'function'"
	settle := func() { time.Sleep(150 * time.Millisecond) }

	// No attribute: page views only.
	c.headScript = script("")
	c.open(c.shop + "/a")
	c.waitPath("/a", ready)
	c.click("pdf")
	settle()
	js[bool](c.browserRig, `document.getElementById("out").dispatchEvent(new MouseEvent("auxclick", {bubbles: true, button: 1})), true`)
	c.click("send")
	c.waitPath("/thanks", ready)
	c.open(c.shop + "/missing/x")
	c.waitPath("/missing/x", ready)
	c.open(c.shop + "/app#/one")
	c.waitPath("/app", ready)
	js[bool](c.browserRig, `location.hash = "#/two", true`)
	settle()
	// Downloads of other extensions.
	c.headScript = script(`data-file-downloads="md, epub"`)
	c.open(c.shop + "/a")
	c.waitPath("/a", ready)
	c.click("pdf")
	settle()
	c.click("md")
	settle()
	c.flush()

	got := c.counts()
	expectRows(t, got, "event", map[string]int64{"File Download": 1})
	if n := got["path|/app"].Pageviews; n != 1 {
		t.Errorf("/app: %d page views; without data-hash a hash change is no page view", n)
	}
	if n := got["total|"].Pageviews; n != 5 {
		t.Errorf("%d page views, want 5 (/a twice, /thanks, /missing/x, /app)", n)
	}
}
