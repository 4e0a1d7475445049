package dashboards_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/gofiber/fiber/v2"

	"tally/aggregator/clickhouse"
	"tally/dashboards"
	"tally/goals"
	"tally/internal/fixture"
	"tally/sites"
)

// convRow is a web counter row of the conversion dimensions, with the
// revenue column (micro-units).
type convRow struct {
	day, hour       int
	dim, value      string
	hits, pageviews int64
	visitors        int64
	visits          int64
	revenue         int64
}

// goalRows: the current range (2026-03-10 and 11) and day -1 of the
// previous period. Signup converts 30 times (25 visitors) against 120
// visits and 100 visitors; Rare converts twice (below k), and its three
// properties of 2 each would make an "(other)" of 6 if it were not
// withheld with its goal.
var goalRows = []convRow{
	{0, 10, "total", "", 300, 250, 100, 120, 0},
	{-1, 10, "total", "", 150, 120, 50, 60, 0},

	{0, 10, "goal", "Signup", 30, 0, 25, 0, 0},
	{-1, 10, "goal", "Signup", 12, 0, 10, 0, 0},
	{0, 10, "goal", "Thank you", 8, 8, 8, 0, 0},
	{1, 9, "goal", "Rare", 2, 0, 2, 0, 0},
	{0, 10, "goal", "Deleted long ago", 50, 0, 40, 0, 0}, // not declared: not shown

	{0, 10, "revenue", "Signup\tEUR", 25, 0, 0, 0, 312_500_000},
	{-1, 10, "revenue", "Signup\tEUR", 10, 0, 0, 0, 100_000_000},
	{0, 10, "revenue", "Signup\tUSD", 1, 0, 0, 0, 9_990_000},
	{1, 9, "revenue", "Rare\tEUR", 2, 0, 0, 0, 5_000_000},

	{0, 10, "goal_prop", "Signup\tplan\tpro", 18, 0, 15, 0, 0},
	{0, 10, "goal_prop", "Signup\tplan\tfree", 7, 0, 6, 0, 0},
	{0, 10, "goal_prop", "Signup\tplan\tteam", 3, 0, 3, 0, 0},
	{0, 10, "goal_prop", "Signup\tplan\tenterprise", 2, 0, 2, 0, 0},
	{1, 9, "goal_prop", "Rare\tplan\tx", 2, 0, 2, 0, 0},
	{1, 9, "goal_prop", "Rare\tplan\ty", 2, 0, 2, 0, 0},
	{1, 9, "goal_prop", "Rare\tplan\tz", 2, 0, 2, 0, 0},

	{0, 10, "goal_source", "Signup\tGoogle", 20, 0, 17, 0, 0},
	{0, 10, "goal_source", "Signup\t(unknown)", 10, 0, 8, 0, 0},
	{0, 10, "goal_campaign", "Signup\t", 25, 0, 21, 0, 0},
	{0, 10, "goal_campaign", "Signup\tspring", 5, 0, 4, 0, 0},
	{0, 10, "goal_entry", "Signup\t/pricing", 30, 0, 25, 0, 0},

	{0, 10, "funnel", "Onboarding\t1", 80, 0, 80, 0, 0},
	{0, 10, "funnel", "Onboarding\t2", 25, 0, 25, 0, 0},
	{0, 10, "funnel", "Onboarding\t3", 3, 0, 3, 0, 0},

	{0, 10, "uniques", "on", 240, 200, 0, 0, 0},
	{0, 10, "uniques", "off", 60, 50, 0, 0, 0},

	{0, 10, "event", "Signup", 30, 0, 25, 0, 0},
	{1, 9, "event", "Rare", 2, 0, 2, 0, 0},
	{0, 10, "prop", "pageview\tlang\tde", 100, 100, 60, 0, 0},
	{0, 10, "prop", "pageview\tlang\tfr", 3, 3, 2, 0, 0},
	{0, 10, "prop", "Signup\tplan\tpro", 18, 0, 15, 0, 0},
	{1, 9, "prop", "Rare\tplan\tx", 2, 0, 2, 0, 0},
	{1, 9, "prop", "Rare\tplan\ty", 2, 0, 2, 0, 0},
	{1, 9, "prop", "Rare\tplan\tz", 2, 0, 2, 0, 0},

	{0, 10, "goal", "Signup", 999, 0, 999, 0, 0}, // another site's: see insertGoalRows
}

const goalSites = `{"sites":[
	{"domain":"example.com","consent_mode":"strict","min_count_k":%K%,"api_tokens":["` + apiTokenHash + `"],
	 "props":["plan"],
	 "goals":[{"event":"Signup"},{"name":"Thank you","path":"/thank-you*"},{"event":"Rare"}],
	 "funnels":[{"name":"Onboarding","steps":[{"path":"/"},{"goal":"Signup"},{"path":"/welcome"}]}]},
	{"domain":"other.example"}]}`

func insertGoalRows(t *testing.T, sink *clickhouse.Sink) {
	t.Helper()
	ctx := context.Background()
	if sink.Cluster().On() { // as fixture.Insert: through the Distributed table, synchronously
		ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"insert_distributed_sync": 1}))
	}
	b, err := sink.Conn().PrepareBatch(ctx,
		"INSERT INTO web_counters (site, hour, dimension, value, hits, pageviews, visitors, visits, revenue)")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range goalRows {
		site := fixture.Site
		if i == len(goalRows)-1 {
			site = fixture.OtherSite
		}
		hour := fixture.Day.AddDate(0, 0, r.day).Add(time.Duration(r.hour) * time.Hour)
		if err := b.Append(site, hour, r.dim, r.value, r.hits, r.pageviews, r.visitors, r.visits, r.revenue); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

type goalServer struct {
	*server
	goals *goals.Registry
}

// newGoalServer serves the goal rows for example.com (UTC, strict mode) at
// the admin's k, with a goal store, and a fixed noise key for shared views.
func newGoalServer(t *testing.T, k int) *goalServer {
	t.Helper()
	return newGoalServerAt(t, k, func() time.Time { return now })
}

// newGoalServerAt is newGoalServer on a clock of its own (a browser drops
// a session cookie that expired by its own clock).
func newGoalServerAt(t *testing.T, k int, clock func() time.Time) *goalServer {
	t.Helper()
	sink := fixture.Empty(t)
	insertGoalRows(t, sink)
	reg, err := sites.Parse(strings.NewReader(strings.Replace(goalSites, "%K%", strconv.Itoa(k), 1)))
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]goals.Config{}
	for _, s := range reg.All() {
		declared[s.Domain] = s.Conversions
	}
	gr := goals.NewRegistry(declared, goals.NewStore(sink.Conn(), sink.Cluster(), nil))
	if err := gr.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	d, err := dashboards.New(dashboards.Options{Conn: sink.Conn(), Sites: reg, AdminPassword: password, Goals: gr,
		// The fixture's days stay in range whatever the clock says.
		Retention: 20 * 365 * 24 * time.Hour,
		Now:       clock, NoiseKey: []byte("goal-test-noise-key-0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	d.Register(app)
	return &goalServer{server: &server{t: t, app: app}, goals: gr}
}

type apiMoney struct {
	Conversions int64 `json:"conversions"`
	Micros      int64 `json:"amount_micros"`
	BelowK      bool  `json:"below_k"`
}

type apiGoal struct {
	Name     string `json:"name"`
	FromFile bool   `json:"from_file"`
	Current  struct {
		Hits     int64 `json:"hits"`
		Visitors int64 `json:"visitors"`
		BelowK   bool  `json:"below_k"`
	} `json:"current"`
	Rate        *float64 `json:"conversion_rate"`
	PrevRate    *float64 `json:"previous_conversion_rate"`
	VisitorRate *float64 `json:"visitor_conversion_rate"`
	Change      struct {
		Conversions *float64 `json:"conversions"`
	} `json:"change"`
	Revenue []struct {
		Currency string   `json:"currency"`
		Current  apiMoney `json:"current"`
		Total    string   `json:"total"`
		Average  string   `json:"average"`
		Prev     string   `json:"previous_total"`
	} `json:"revenue"`
}

type apiGoals struct {
	Goals    []apiGoal `json:"goals"`
	Coverage *float64  `json:"coverage"`
	Privacy  struct {
		Exact bool `json:"exact"`
	} `json:"privacy"`
}

func (s *goalServer) goalsAPI(token, cookie string) apiGoals {
	s.t.Helper()
	var r resp
	if token != "" {
		r = s.api("/api/stats/example.com/goals?"+rangeQ, token)
	} else {
		r = s.adminAPI("/api/stats/example.com/goals?"+rangeQ, cookie)
	}
	var out apiGoals
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.status != 200 {
		s.t.Fatalf("goals API: %d %s", r.status, r.body)
	}
	return out
}

func near(f *float64, want float64) bool { return f != nil && *f > want-1e-9 && *f < want+1e-9 }

// TestGoalsAPI: exact figures for the admin (conversions, uniques, rates
// against visits and visitors, revenue per currency with its average and
// the previous period), k withholding of a goal and of a rare currency,
// and the funnel with its drop-off and a step below k.
func TestGoalsAPI(t *testing.T) {
	s := newGoalServer(t, 5)
	cookie, _ := s.signIn()
	g := s.goalsAPI("", cookie)
	if !g.Privacy.Exact || len(g.Goals) != 3 || g.Goals[0].Name != "Signup" || g.Goals[1].Name != "Thank you" || g.Goals[2].Name != "Rare" {
		t.Fatalf("goals: %+v", g)
	}
	su := g.Goals[0]
	if su.Current.Hits != 30 || su.Current.Visitors != 25 || !near(su.Rate, 0.25) || !near(su.VisitorRate, 0.25) ||
		!near(su.PrevRate, 0.2) || !near(su.Change.Conversions, 1.5) || !su.FromFile {
		t.Errorf("Signup: %+v", su)
	}
	if len(su.Revenue) != 2 {
		t.Fatalf("Signup revenue: %+v", su.Revenue)
	}
	eur, usd := su.Revenue[0], su.Revenue[1]
	if eur.Currency != "EUR" || eur.Current.Conversions != 25 || eur.Current.Micros != 312_500_000 || eur.Total != "312.50" || eur.Average != "12.50" || eur.Prev != "100.00" {
		t.Errorf("EUR: %+v", eur)
	}
	if usd.Currency != "USD" || !usd.Current.BelowK || usd.Current.Micros != 0 || usd.Total != "" {
		t.Errorf("one purchase in USD is shown: %+v", usd)
	}
	rare := g.Goals[2]
	if !rare.Current.BelowK || rare.Current.Hits != 0 || rare.Rate != nil || len(rare.Revenue) != 1 || !rare.Revenue[0].Current.BelowK || rare.Revenue[0].Total != "" {
		t.Errorf("Rare (2 conversions, k 5) is shown: %+v", rare)
	}
	if !near(g.Coverage, 0.8) {
		t.Errorf("coverage: %v", g.Coverage)
	}

	var fn struct {
		Funnels []struct {
			Name  string `json:"name"`
			Steps []struct {
				Label    string   `json:"label"`
				Visitors int64    `json:"visitors"`
				BelowK   bool     `json:"below_k"`
				DropOff  *float64 `json:"drop_off"`
			} `json:"steps"`
		} `json:"funnels"`
	}
	r := s.adminAPI("/api/stats/example.com/funnels?"+rangeQ, cookie)
	if err := json.Unmarshal([]byte(r.body), &fn); err != nil || len(fn.Funnels) != 1 || len(fn.Funnels[0].Steps) != 3 {
		t.Fatalf("funnels: %d %s", r.status, r.body)
	}
	st := fn.Funnels[0].Steps
	if st[0].Visitors != 80 || st[0].Label != "Visit /" || st[1].Visitors != 25 || st[1].Label != "Signup" || !near(st[1].DropOff, 1-25.0/80) ||
		!st[2].BelowK || st[2].Visitors != 0 || st[2].DropOff != nil {
		t.Errorf("funnel steps: %s", r.body)
	}

	// The breakdowns under a goal: values below k folded (team 3 and
	// enterprise 2 make an "(other)" of 5).
	var b struct {
		Rows []struct {
			Value    string `json:"value"`
			Visitors int64  `json:"visitors"`
		} `json:"rows"`
		Other *struct {
			Visitors int64 `json:"visitors"`
		} `json:"other"`
		Folded int64 `json:"folded"`
	}
	r = s.adminAPI("/api/stats/example.com/breakdown/goal_prop?goal=Signup&"+rangeQ, cookie)
	if err := json.Unmarshal([]byte(r.body), &b); err != nil || r.status != 200 {
		t.Fatalf("goal_prop: %d %s", r.status, r.body)
	}
	if len(b.Rows) != 2 || b.Rows[0].Value != "plan\tpro" || b.Rows[0].Visitors != 15 || b.Rows[1].Value != "plan\tfree" ||
		b.Other == nil || b.Other.Visitors != 5 || b.Folded != 2 {
		t.Errorf("goal_prop of Signup: %s", r.body)
	}
	for _, c := range []struct{ q, want string }{
		{"goal_source?goal=Signup", `"value":"Google"`},
		{"goal_campaign?goal=Signup", `"value":""`},
		{"goal_entry?goal=Signup", `"value":"/pricing"`},
	} {
		r := s.adminAPI("/api/stats/example.com/breakdown/"+c.q+"&"+rangeQ, cookie)
		if r.status != 200 || !strings.Contains(r.body, c.want) || strings.Contains(r.body, "spring") {
			t.Errorf("%s: %d %s", c.q, r.status, r.body)
		}
	}
	// The properties of events: an event below k has none (its three
	// values of 2 would make an "(other)" of 6).
	for _, c := range []struct{ event, want, not string }{
		{"pageview", `"value":"lang\tde","hits":100,"pageviews":100,"visitors":60`, `lang\tfr`},
		{"Signup", `"value":"plan\tpro"`, "Rare"},
		{"Rare", `"rows":[]`, "plan"},
	} {
		r := s.adminAPI("/api/stats/example.com/breakdown/prop?event="+c.event+"&"+rangeQ, cookie)
		if r.status != 200 || !strings.Contains(r.body, c.want) || strings.Contains(r.body, c.not) || (c.event == "Rare" && !strings.Contains(r.body, `"other":null`)) {
			t.Errorf("prop of %s: %d %s", c.event, r.status, r.body)
		}
	}
	for _, q := range []string{"goal_prop?x=1", "goal_prop?goal=Nope", "goal_sauce?goal=Signup", "prop?goal=Signup"} {
		if r := s.adminAPI("/api/stats/example.com/breakdown/"+q+"&"+rangeQ, cookie); r.status != 400 {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}

// TestGoalsCSV: the goals, funnels and breakdown downloads carry the
// page's figures; withheld ones are empty.
func TestGoalsCSV(t *testing.T) {
	s := newGoalServer(t, 5)
	cookie, _ := s.signIn()
	read := func(path string) [][]string {
		t.Helper()
		r := s.get(path, cookie)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	g := read("/sites/example.com/csv/goals?" + rangeQ)
	want := [][]string{
		{"Signup", "Signup", "", "30", "25", "0.2500", "0.2500", "12", "10", "0.2000", "EUR", "25", "312.50", "12.50", "100.00"},
		{"Signup", "Signup", "", "30", "25", "0.2500", "0.2500", "12", "10", "0.2000", "USD", "", "", "", ""},
		{"Thank you", "", "/thank-you*", "8", "8", "0.0667", "0.0800", "", "", "", "", "", "", "", ""},
		{"Rare", "Rare", "", "", "", "", "", "", "", "", "EUR", "", "", "", ""},
	}
	if len(g) != 5 {
		t.Fatalf("goals CSV: %q", g)
	}
	for i, w := range want {
		if strings.Join(g[i+1], ",") != strings.Join(w, ",") {
			t.Errorf("goals CSV line %d: %q, want %q", i+1, g[i+1], w)
		}
	}
	f := read("/sites/example.com/csv/funnels?" + rangeQ)
	if len(f) != 4 || strings.Join(f[2], ",") != "Onboarding,2,Signup,25,0.6875,0.3125" || f[3][3] != "" {
		t.Errorf("funnels CSV: %q", f)
	}
	p := read("/sites/example.com/csv/goal_prop?goal=Signup&" + rangeQ)
	if len(p) != 4 || strings.Join(p[1], ",") != "plan,pro,15,18" || p[3][0] != "(other)" || p[3][2] != "5" {
		t.Errorf("goal_prop CSV: %q", p)
	}
	if r := s.api("/api/stats/example.com/goals?format=csv&"+rangeQ, apiToken); r.status != 200 || !strings.Contains(r.body, "goal,event,path") ||
		strings.Contains(r.body, "9990000") || strings.Contains(r.body, ",9.99") {
		t.Errorf("token's goals CSV: %d %s", r.status, r.body)
	}
}

// TestGoalsCard: the site page shows the goals card with the admin's exact
// figures, the breakdowns under each goal with the coverage line, and the
// funnel as an SVG with its drop-off.
func TestGoalsCard(t *testing.T) {
	s := newGoalServer(t, 5)
	cookie, _ := s.signIn()
	r := s.get("/sites/example.com?"+rangeQ, cookie)
	if r.status != 200 {
		t.Fatalf("site page: %d", r.status)
	}

	for _, want := range []string{
		`id="goals"`, `data-goal="Signup"`, `<span data-col="conversions">30</span>`, `data-col="unique">25<`,
		`<span data-col="rate">25.0%</span>`, `&#43;150%`, `&#43;212%`, `href="#goal-Thank_you"`, `id="goal-Thank_you"`, `EUR 312.50`, `EUR 12.50`, `USD &lt; 5`,
		`data-goal="Rare"`, `<span data-col="conversions">&lt; 5</span>`,
		`id="goal_prop-Signup"`, `plan = pro`, `plan = free`, `(other)`, `id="goal_campaign-Signup"`, `(none)`,
		`these figures cover 80.0% of page views`, `<svg class="chart funnel"`, `data-visitors="80"`, `−68.8%`,
		`Add goal`, `Declared in the sites file`,
		`id="prop-pageview"`, `Properties of page views`, `lang = de`, `id="prop-Signup"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	for _, not := range []string{"team", "enterprise", "spring", "Deleted long ago", "plan = x", "id=\"goal_prop-Rare\"", "id=\"prop-Rare\"", "lang = fr", "data-visitors=\"3\""} {
		if strings.Contains(r.body, not) {
			t.Errorf("the page shows %s", not)
		}
	}
}

// TestGoalsSharedView: a share link and an API token see the shared
// view: a goal of 2 conversions withheld even where the admin's k is 0,
// the others noisy, and no edit forms.
func TestGoalsSharedView(t *testing.T) {
	s := newGoalServer(t, 0)
	cookie, csrf := s.signIn()
	admin := s.goalsAPI("", cookie)
	if admin.Goals[2].Current.Hits != 2 || admin.Goals[2].Current.BelowK || admin.Goals[0].Revenue[1].Total != "9.99" {
		t.Fatalf("the admin's k 0 view is not exact: %+v", admin.Goals)
	}
	tok := s.goalsAPI(apiToken, "")
	if tok.Privacy.Exact || !tok.Goals[2].Current.BelowK || tok.Goals[2].Current.Hits != 0 || !tok.Goals[2].Revenue[0].Current.BelowK ||
		!tok.Goals[0].Revenue[1].Current.BelowK {
		t.Fatalf("token view: %+v", tok.Goals)
	}
	if su := tok.Goals[0]; su.Current.BelowK || su.Current.Hits < 20 || su.Current.Hits > 40 || su.Current.Hits == 30 && su.Current.Visitors == 25 {
		t.Errorf("token's Signup is not noisy near 30: %+v", su.Current)
	}
	r := s.post("/sites/example.com/share", cookie, url.Values{"label": {"goals"}, "csrf": {csrf}})
	m := regexp.MustCompile(`value="http://example.com(/share/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("share link: %d", r.status)
	}
	page := s.get(m[1]+"?"+rangeQ, "")
	if page.status != 200 || !strings.Contains(page.body, `id="goals"`) || !strings.Contains(page.body, `data-goal="Rare"`) {
		t.Fatalf("shared page: %d", page.status)
	}
	if !regexp.MustCompile(`data-goal="Rare">.*?<span data-col="conversions">&lt; 5</span>`).MatchString(strings.ReplaceAll(page.body, "\n", " ")) {
		t.Errorf("the shared page shows Rare's 2 conversions")
	}
	for _, not := range []string{"Add goal", "Delete goal", "/goals\"", "goals/delete", "plan = x"} {
		if strings.Contains(page.body, not) {
			t.Errorf("the shared page has %s", not)
		}
	}
}

// TestGoalEdits: the admin adds and deletes goals through the forms (CSRF
// required); file goals cannot be deleted; a share-link holder cannot edit.
func TestGoalEdits(t *testing.T) {
	s := newGoalServer(t, 5)
	cookie, csrf := s.signIn()
	add := url.Values{"name": {"Newsletter"}, "kind": {"event"}, "match": {"Subscribe"}}
	if r := s.post("/sites/example.com/goals", cookie, add); r.status != http.StatusForbidden {
		t.Fatalf("add without CSRF: %d", r.status)
	}
	if _, ok := s.goals.For("example.com").Goal("Newsletter"); ok {
		t.Fatal("a goal was added without the CSRF token")
	}
	add.Set("csrf", csrf)
	if r := s.post("/sites/example.com/goals?"+rangeQ, cookie, add); r.status != http.StatusSeeOther ||
		r.header.Get("Location") != "/sites/example.com?"+rangeQ+"#goals" {
		t.Fatalf("add: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	if g, ok := s.goals.For("example.com").Goal("Newsletter"); !ok || g.Event != "Subscribe" {
		t.Fatal("the added goal is not in the registry")
	}
	if r := s.post("/sites/example.com/goals", cookie, add); r.status != 400 || !strings.Contains(r.body, "exists") {
		t.Errorf("the same name again: %d", r.status)
	}
	page := url.Values{"kind": {"page"}, "match": {"/thanks/**"}, "csrf": {csrf}}
	if r := s.post("/sites/example.com/goals", cookie, page); r.status != http.StatusSeeOther {
		t.Fatalf("page goal: %d %s", r.status, r.body)
	}
	for _, bad := range []url.Values{{"kind": {"event"}, "match": {"pageview"}}, {"kind": {"page"}, "match": {"no-slash"}}, {"kind": {"x"}, "match": {"A"}}, {"kind": {"event"}, "match": {"a\tb"}}} {
		bad.Set("csrf", csrf)
		if r := s.post("/sites/example.com/goals", cookie, bad); r.status != 400 {
			t.Errorf("bad goal %v: %d", bad, r.status)
		}
	}
	r := s.get("/sites/example.com?"+rangeQ, cookie)
	if !strings.Contains(r.body, `data-goal="Newsletter"`) || !strings.Contains(r.body, `data-goal="Visit /thanks/**"`) ||
		!strings.Contains(r.body, `name="name" value="Newsletter"`) || strings.Contains(r.body, `name="name" value="Signup"`) {
		t.Fatalf("the page does not list the new goals with delete forms (and the file's without)")
	}
	if !strings.Contains(r.body, `action="/sites/example.com/goals?range=custom&amp;from=2026-03-10&amp;to=2026-03-11"`) {
		t.Errorf("the add form does not come back to the page's range")
	}

	// A share-link holder: no route edits goals, with or without a token.
	r = s.post("/sites/example.com/share", cookie, url.Values{"label": {"x"}, "csrf": {csrf}})
	link := regexp.MustCompile(`value="http://example.com(/share/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(r.body)[1]
	for _, p := range []string{link + "/goals", link + "/goals/delete"} {
		r := s.post(p, "", url.Values{"name": {"Newsletter"}, "kind": {"event"}, "match": {"Hijack"}, "csrf": {csrf}})
		if r.status < 400 {
			t.Errorf("POST %s: %d", p, r.status)
		}
	}
	if r := s.post("/sites/example.com/goals/delete", "", url.Values{"name": {"Newsletter"}, "csrf": {csrf}}); r.status < 300 || r.status == http.StatusOK {
		t.Errorf("delete without a session: %d", r.status)
	}
	if _, ok := s.goals.For("example.com").Goal("Newsletter"); !ok {
		t.Fatal("someone without a session deleted a goal")
	}

	del := url.Values{"name": {"Signup"}, "csrf": {csrf}}
	if r := s.post("/sites/example.com/goals/delete", cookie, del); r.status != 400 || !strings.Contains(r.body, "sites file") {
		t.Errorf("deleting a file goal: %d", r.status)
	}
	del.Set("name", "Newsletter")
	if r := s.post("/sites/example.com/goals/delete", cookie, url.Values{"name": {"Newsletter"}}); r.status != http.StatusForbidden {
		t.Errorf("delete without CSRF: %d", r.status)
	}
	if r := s.post("/sites/example.com/goals/delete", cookie, del); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if _, ok := s.goals.For("example.com").Goal("Newsletter"); ok {
		t.Fatal("the deleted goal is still counted")
	}
	if r := s.post("/sites/example.com/goals/delete", cookie, del); r.status != 404 {
		t.Errorf("deleting it again: %d", r.status)
	}
}
