package dashboards_test

// The attacks of issue 8 ("Privacy that holds at every output"), replayed
// through the real dashboards handlers against the real ClickHouse. Each
// attack is run as a share-link viewer and as an API-token holder (the
// outputs that leave the operator's hands); where the attack relies on
// differencing, it is also run against the admin's own view, which is
// exact by design, to show that the attack code works and would catch a
// leak (a test that could not fail would prove nothing).

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/dashboards"
	"tally/internal/fixture"
	"tally/sites"
)

const (
	k          = 5 // the default k: the sites file below does not set it
	otherToken = "other-site-token-0123456789"
	anonToken  = "anon-site-token-0123456789"
)

var (
	d0     = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	atkNow = d0.AddDate(0, 0, 31).Add(12 * time.Hour)
)

func tokenHash(t string) string {
	h := sha256.Sum256([]byte(t))
	return "sha256:" + hex.EncodeToString(h[:])
}

func dayOf(i int) string { return d0.AddDate(0, 0, i).Format(time.DateOnly) }

func rangeOf(from, to int) string {
	return "range=custom&from=" + dayOf(from) + "&to=" + dayOf(to)
}

// Values the attacks are after: each is below k, and must never show.
const (
	resetPath = "/reset/0123456789abcdef0123456789abcdef"
	userPath  = "/user/alice@example.com"
	rareHour  = 3 // the hour of day 5 at which one person came
)

type attackServer struct {
	*server
	cookie string
	share  string // the share link's path, /share/<token>
}

// newAttackServer loads counters built for the attacks: a busy site
// (example.com, strict mode so k counts visitors), a second site whose
// data must never show through the first one's links, and an anonymous
// mode site where k counts hits.
func newAttackServer(t *testing.T) *attackServer {
	t.Helper()
	sink := fixture.Empty(t)
	at := func(day, hour int) time.Time { return d0.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour) }
	var web []fixture.Web
	add := func(site string, day, hour int, dim, value string, v, pv int64) {
		web = append(web, fixture.Web{Site: site, Hour: at(day, hour), Dimension: dim, Value: value, Hits: pv, Pageviews: pv, Visitors: v})
	}
	const site = "example.com"
	for d := 0; d <= 30; d++ {
		// 40 visitors a day at 10:00 on two pages; a day's total is the
		// sum of its pages, as if each visitor read one.
		add(site, d, 10, "total", "", 40, 100)
		add(site, d, 10, "path", "/", 25, 60)
		add(site, d, 10, "path", "/pricing", 15, 40)
		add(site, d, 10, "region", "DE-BY", 40, 100)
		add(site, d, 10, "browser", "Firefox", 40, 100)
		add("other.example", d, 10, "total", "", 100, 100)
		add("other.example", d, 10, "path", "/other-secret-path", 100, 100)
		add("anon.example", d, 10, "total", "", 0, 30)
	}
	// Attack 1: two identifiers stored as paths, one visitor each.
	add(site, 7, 11, "path", resetPath, 1, 1)
	add(site, 7, 12, "path", userPath, 1, 1)
	add(site, 7, 11, "total", "", 2, 2)
	// Attack 2: at 03:00 on day 5 one person from Bremen, with a rare
	// browser, read a page nobody else read; /popular had 10 visitors at
	// 10:00 and this one at 03:00. The anonymous site had one hit then.
	add(site, 5, rareHour, "total", "", 1, 1)
	add(site, 5, rareHour, "region", "DE-HB", 1, 1)
	add(site, 5, rareHour, "browser", "RareBrowser", 1, 1)
	add(site, 5, rareHour, "path", "/rare-page", 1, 1)
	add(site, 5, rareHour, "path", "/popular", 1, 1)
	add(site, 5, 10, "path", "/popular", 10, 10)
	add("anon.example", 5, rareHour, "total", "", 0, 1)
	// Attack 3: 24 pages with 12 visitors on day 24 and x = 1..3 on day
	// 25: shown in [d, 24] and [d, 25], their difference is x.
	for i := range targets {
		add(site, 24, 15, "path", targets[i].value, 12, 12)
		add(site, 25, 15, "path", targets[i].value, targets[i].x, targets[i].x)
		add(site, 24, 15, "total", "", 12, 12)
		add(site, 25, 15, "total", "", targets[i].x, targets[i].x)
	}
	// Attack 4: on days 10-21 one more page read by h = 1..4 visitors:
	// below k, withheld, but the day's total minus the shown pages is h.
	for d := 10; d <= 21; d++ {
		h := hiddenOn(d)
		add(site, d, 16, "path", fmt.Sprintf("/hidden-%d", d), h, h)
		add(site, d, 16, "total", "", h, h)
	}
	email := []fixture.Email{
		// Attack 5: a campaign named after its one recipient, who opened
		// it at 14:00 from Bremen in Gmail.
		{Site: site, Campaign: "alice-smith", Hour: at(3, 9), Dimension: "total", Sent: 1},
		{Site: site, Campaign: "alice-smith", Hour: at(3, 14), Dimension: "total", Opens: 1, UniqueOpens: 1},
		{Site: site, Campaign: "alice-smith", Hour: at(3, 14), Dimension: "country", Value: "DE", Opens: 1, UniqueOpens: 1},
		{Site: site, Campaign: "alice-smith", Hour: at(3, 14), Dimension: "region", Value: "DE-HB", Opens: 1, UniqueOpens: 1},
		{Site: site, Campaign: "alice-smith", Hour: at(3, 14), Dimension: "client", Value: "Gmail", Opens: 1, UniqueOpens: 1},
		// A campaign without reported sends that one person opened: not
		// even its name may show, or it would tell that someone opened it.
		{Site: site, Campaign: "no-sends-bob", Hour: at(4, 8), Dimension: "total", Opens: 1, UniqueOpens: 1},
		// A campaign of many, which shows.
		{Site: site, Campaign: "newsletter", Hour: at(2, 9), Dimension: "total", Sent: 1000},
		{Site: site, Campaign: "newsletter", Hour: at(2, 10), Dimension: "total", Opens: 300, UniqueOpens: 200},
		{Site: site, Campaign: "newsletter", Hour: at(2, 10), Dimension: "region", Value: "DE-BY", Opens: 300, UniqueOpens: 200},
		// Attack 6: the other site's campaign.
		{Site: "other.example", Campaign: "other-secret", Hour: at(2, 9), Dimension: "total", Sent: 100, Opens: 50, UniqueOpens: 50},
	}
	fixture.Insert(t, sink, web, email)

	reg, err := sites.Parse(strings.NewReader(`{"sites":[
		{"domain":"example.com","consent_mode":"strict","api_tokens":["` + apiTokenHash + `"]},
		{"domain":"other.example","consent_mode":"strict","api_tokens":["` + tokenHash(otherToken) + `"]},
		{"domain":"anon.example","api_tokens":["` + tokenHash(anonToken) + `"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dashboards.New(dashboards.Options{
		Conn: sink.Conn(), Sites: reg, AdminPassword: password,
		Now: func() time.Time { return atkNow },
		// A fixed key, so that the noise, and so this test, is the same
		// on every run.
		NoiseKey: []byte("attack-test-noise-key-0123456789abcdef"),
	})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	d.Register(app)
	s := &attackServer{server: &server{t: t, app: app}}
	var csrf string
	s.cookie, csrf = s.signIn()
	r := s.post("/sites/example.com/share", s.cookie, url.Values{"label": {"agency"}, "csrf": {csrf}})
	m := regexp.MustCompile(`value="http://example.com(/share/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("cannot create a share link: %d %s", r.status, r.body)
	}
	s.share = m[1]
	return s
}

type target struct {
	value string
	x     int64
}

var targets = func() []target {
	var ts []target
	for i := 1; i <= 24; i++ {
		ts = append(ts, target{value: fmt.Sprintf("/t-%02d", i), x: int64(1 + i%3)})
	}
	return ts
}()

func hiddenOn(day int) int64 { return int64(1 + day%4) }

// viewer is one way of reading example.com's figures.
type viewer struct {
	name  string
	exact bool // the admin's own view
	// totals returns the site's visitors over days from..to, or ok=false
	// when they are withheld.
	totals func(from, to int) (v int64, ok bool)
	// rows returns a breakdown's visitors by value (up to 1000 values).
	rows func(dim string, from, to int, filter string) map[string]int64
	// raw returns the raw answer of a breakdown, for the oracle.
	raw func(dim string, from, to int, filter string) string
}

func (s *attackServer) viewers() []viewer {
	t := s.t
	apiTotals := func(get func(string) resp) func(int, int) (int64, bool) {
		return func(from, to int) (int64, bool) {
			r := get("/api/stats/example.com/totals?" + rangeOf(from, to))
			var out struct {
				Current struct {
					Visitors int64
					BelowK   bool `json:"below_k"`
				}
			}
			if r.status != 200 || json.Unmarshal([]byte(r.body), &out) != nil {
				t.Fatalf("totals: %d %s", r.status, r.body)
			}
			return out.Current.Visitors, !out.Current.BelowK
		}
	}
	apiRaw := func(get func(string) resp) func(string, int, int, string) string {
		return func(dim string, from, to int, filter string) string {
			r := get("/api/stats/example.com/breakdown/" + dim + "?limit=1000&" + rangeOf(from, to) + "&filter=" + url.QueryEscape(filter))
			if r.status != 200 {
				t.Fatalf("breakdown: %d %s", r.status, r.body)
			}
			return r.body
		}
	}
	apiRows := func(raw func(string, int, int, string) string) func(string, int, int, string) map[string]int64 {
		return func(dim string, from, to int, filter string) map[string]int64 {
			var out struct {
				Rows []struct {
					Value    string
					Visitors int64
				}
			}
			if err := json.Unmarshal([]byte(raw(dim, from, to, filter)), &out); err != nil {
				t.Fatal(err)
			}
			m := map[string]int64{}
			for _, r := range out.Rows {
				m[r.Value] = r.Visitors
			}
			return m
		}
	}
	token := func(p string) resp { return s.api(p, apiToken) }
	admin := func(p string) resp { return s.get(p, s.cookie) }
	shareRaw := func(dim string, from, to int, filter string) string {
		r := s.get(s.share+"/csv/"+dim+"?"+rangeOf(from, to)+"&filter="+url.QueryEscape(filter), "")
		if r.status != 200 {
			t.Fatalf("share CSV: %d %s", r.status, r.body)
		}
		return r.body
	}
	kpi := regexp.MustCompile(`data-kpi="visitors">([^<]*)<`)
	return []viewer{
		{name: "API token", totals: apiTotals(token), raw: apiRaw(token), rows: apiRows(apiRaw(token))},
		{name: "share link",
			totals: func(from, to int) (int64, bool) {
				r := s.get(s.share+"?"+rangeOf(from, to), "")
				m := kpi.FindStringSubmatch(r.body)
				if r.status != 200 || m == nil {
					t.Fatalf("shared page: %d", r.status)
				}
				if strings.HasPrefix(m[1], "&lt;") {
					return 0, false
				}
				n, err := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
				if err != nil {
					t.Fatalf("visitors %q", m[1])
				}
				return n, true
			},
			raw: shareRaw,
			rows: func(dim string, from, to int, filter string) map[string]int64 {
				recs, err := csv.NewReader(strings.NewReader(shareRaw(dim, from, to, filter))).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				m := map[string]int64{}
				for _, rec := range recs[1:] {
					m[rec[0]], _ = strconv.ParseInt(rec[2], 10, 64)
				}
				return m
			}},
		{name: "admin", exact: true, totals: apiTotals(admin), raw: apiRaw(admin), rows: apiRows(apiRaw(admin))},
	}
}

// TestAttackFilterOracle replays the filter oracle: with the number of
// folded values in the answer, filter= told whether a hidden value
// contains a string, and rebuilt /reset/<token> and /user/<email> a
// character at a time. Now every prefix of a hidden value gets the answer a
// filter matching nothing gets, for every viewer.
func TestAttackFilterOracle(t *testing.T) {
	s := newAttackServer(t)
	for _, v := range s.viewers() {
		for _, q := range []struct{ dim, hidden, from string }{
			{"path", resetPath, "/re"}, {"path", userPath, "/us"}, {"path", userPath, "alice"}, {"region", "DE-HB", "HB"},
		} {
			none := v.raw(q.dim, 0, 29, "no value contains this")
			start := strings.Index(q.hidden, q.from)
			for end := start + len(q.from); end <= len(q.hidden); end++ {
				probe := q.hidden[start:end]
				got := v.raw(q.dim, 0, 29, probe)
				if got != none {
					t.Errorf("%s: filter=%q answers differently from a filter matching nothing:\n%s\n%s", v.name, probe, got, none)
				}
				if strings.Contains(got, q.hidden) || strings.Contains(got, `"folded"`) {
					t.Errorf("%s: filter=%q: %s", v.name, probe, got)
				}
			}
		}
		// Rebuilding char by char: the attacker extends a prefix by any
		// character whose answer differs from "no match". Nothing extends.
		const alphabet = "0123456789abcdef/@.-_resetuserlicxmp"
		prefix := "/reset/"
		none := v.raw("path", 0, 29, "no value contains this")
		for _, c := range alphabet {
			if v.raw("path", 0, 29, prefix+string(c)) != none {
				t.Errorf("%s: the oracle extends %q with %q", v.name, prefix, c)
			}
		}
		// And without a filter the hidden values are not listed either.
		all := v.raw("path", 0, 29, "")
		if strings.Contains(all, resetPath) || strings.Contains(all, userPath) || strings.Contains(all, `"folded"`) && !v.exact {
			t.Errorf("%s: unfiltered path breakdown: %s", v.name, all)
		}
	}
}

// TestAttackHourlySeries replays the hourly series of 1: three hourly
// points of 1 at the same hour for a rare region, a rare browser and a rare
// page said one person, from there, with that browser, read that page. Now
// the series of a value below k is refused, and every bucket below k of any
// series is withheld, for every viewer (the admin's too: k applies there).
func TestAttackHourlySeries(t *testing.T) {
	s := newAttackServer(t)
	day := "range=custom&from=" + dayOf(5) + "&to=" + dayOf(5)
	gets := map[string]func(string) resp{
		"API token": func(p string) resp { return s.api(p, apiToken) },
		"admin":     func(p string) resp { return s.get(p, s.cookie) },
	}
	type point struct {
		Start     time.Time
		Hits      int64
		Visitors  int64
		Pageviews int64
		BelowK    bool `json:"below_k"`
	}
	for name, get := range gets {
		for _, q := range []string{"dimension=region&value=DE-HB", "dimension=browser&value=RareBrowser", "dimension=path&value=/rare-page"} {
			r := get("/api/stats/example.com/series?interval=hour&" + q + "&" + day)
			if r.status != http.StatusBadRequest || strings.Contains(r.body, "points") {
				t.Errorf("%s: series of %s: %d %s", name, q, r.status, r.body)
			}
		}
		for _, q := range []string{"", "dimension=path&value=/popular&", "dimension=path&value=/&"} {
			r := get("/api/stats/example.com/series?interval=hour&" + q + day)
			var out struct{ Points []point }
			if r.status != 200 || json.Unmarshal([]byte(r.body), &out) != nil || len(out.Points) != 24 {
				t.Fatalf("%s: series %q: %d %s", name, q, r.status, r.body)
			}
			for _, p := range out.Points {
				if p.BelowK && (p.Visitors != 0 || p.Hits != 0 || p.Pageviews != 0) {
					t.Errorf("%s: series %q: a withheld bucket has numbers: %+v", name, q, p)
				}
				if !p.BelowK && p.Visitors < k {
					t.Errorf("%s: series %q: bucket %v shows %d visitors", name, q, p.Start, p.Visitors)
				}
			}
			if p := out.Points[rareHour]; !p.BelowK {
				t.Errorf("%s: series %q: the 03:00 bucket of one visitor is not withheld: %+v", name, q, p)
			}
		}
	}
	// The anonymous-mode site records no visitors; k counts hits there.
	r := s.api("/api/stats/anon.example/series?interval=hour&"+day, anonToken)
	var out struct{ Points []point }
	if json.Unmarshal([]byte(r.body), &out) != nil || len(out.Points) != 24 || !out.Points[rareHour].BelowK || out.Points[10].BelowK {
		t.Errorf("anonymous site: hour %d should be withheld (1 hit), hour 10 shown (30 hits): %s", rareHour, r.body)
	}
	// The shared page of that day: the chart says the hour is withheld,
	// and no card lists the rare values.
	page := s.get(s.share+"?"+day, "").body
	if !strings.Contains(page, fmt.Sprintf("%02d:00: below the privacy threshold", rareHour)) {
		t.Error("the shared page's chart does not withhold 03:00")
	}
	for _, v := range []string{"DE-HB", "Bremen", "RareBrowser", "/rare-page"} {
		if strings.Contains(page, v) {
			t.Errorf("the shared page of day 5 shows %s", v)
		}
	}
}

// estimates is what the differencing attacker makes of each target.
type estimates struct {
	viewer   string
	exact    bool
	est, tru []float64
}

// score counts the targets whose estimate rounds to the truth, the mean
// absolute error of the estimates, and that of the best blind guess (the
// median count, guessed for every target without asking anything).
func (e estimates) score() (hits int, mae, blind float64) {
	sorted := slices.Clone(e.tru)
	slices.Sort(sorted)
	median := sorted[len(sorted)/2]
	for i := range e.est {
		if math.Round(e.est[i]) == e.tru[i] {
			hits++
		}
		mae += math.Abs(e.est[i] - e.tru[i])
		blind += math.Abs(median - e.tru[i])
	}
	n := float64(len(e.est))
	return hits, mae / n, blind / n
}

// check fails unless the exact view gives every count away (the attack
// works) and the shared views tell the attacker less than a blind guess
// would: their estimates are further from the truth, on average, than
// guessing the median count for every target.
func (e estimates) check(t *testing.T, attack string) {
	t.Helper()
	hits, mae, blind := e.score()
	t.Logf("%s, %s: %d of %d counts recovered exactly, mean error %.2f (a blind guess: %.2f)", attack, e.viewer, hits, len(e.est), mae, blind)
	if e.exact {
		if hits != len(e.est) {
			t.Errorf("%s against the exact view recovered only %d of %d: the attack itself is broken", attack, hits, len(e.est))
		}
		return
	}
	if mae < blind || hits > len(e.est)/2 {
		t.Errorf("%s, %s: counts below k recovered: %d of %d exactly, mean error %.2f against %.2f for a blind guess",
			attack, e.viewer, hits, len(e.est), mae, blind)
	}
}

// TestAttackDifferencingRanges replays differencing two overlapping custom
// ranges: a page shown in [d, 24] and in [d, 25] gives away its count on
// day 25. The attacker also averages over eight start days d, and asks
// each question again. Noise is fixed per (page, node), so the repeats are
// identical and the averages converge on the same noisy value, not on the
// truth.
func TestAttackDifferencingRanges(t *testing.T) {
	s := newAttackServer(t)
	for _, v := range s.viewers() {
		single := estimates{viewer: v.name + " (one pair)", exact: v.exact}
		avg := estimates{viewer: v.name + " (average of 8 pairs)", exact: v.exact}
		sums := make([]float64, len(targets))
		unusable := make([]bool, len(targets))
		for l := 1; l <= 8; l++ {
			before := v.rows("path", 25-l, 24, "")
			after := v.rows("path", 25-l, 25, "")
			if l == 1 {
				again := v.rows("path", 25-l, 25, "")
				for i, tg := range targets {
					if again[tg.value] != after[tg.value] {
						t.Fatalf("%s: the same question answered %d then %d", v.name, after[tg.value], again[tg.value])
					}
					_ = i
				}
			}
			for i, tg := range targets {
				b, okb := before[tg.value]
				a, oka := after[tg.value]
				if !okb || !oka {
					// Listed or not depends on the noise too near k: the
					// attacker cannot use this pair.
					unusable[i] = true
					continue
				}
				d := float64(a - b)
				sums[i] += d
				if l == 1 {
					single.est = append(single.est, d)
					single.tru = append(single.tru, float64(tg.x))
				}
			}
		}
		for i, tg := range targets {
			if !unusable[i] {
				avg.est = append(avg.est, sums[i]/8)
				avg.tru = append(avg.tru, float64(tg.x))
			}
		}
		if len(avg.est) < len(targets)*2/3 {
			t.Fatalf("%s: only %d of %d targets listed in every range: the attack proves little", v.name, len(avg.est), len(targets))
		}
		single.check(t, "differencing two ranges")
		avg.check(t, "differencing two ranges")
	}
}

// TestAttackTotalMinusRows replays "the total minus the shown rows": on
// days 10-21 one page had h = 1..4 visitors, withheld, but the day's total
// minus the pages shown is h.
func TestAttackTotalMinusRows(t *testing.T) {
	s := newAttackServer(t)
	for _, v := range s.viewers() {
		e := estimates{viewer: v.name, exact: v.exact}
		for d := 10; d <= 21; d++ {
			total, ok := v.totals(d, d)
			if !ok {
				t.Fatalf("%s: day %d's total is withheld", v.name, d)
			}
			rows := v.rows("path", d, d, "")
			var shown int64
			for value, n := range rows {
				if strings.HasPrefix(value, "/hidden-") || value == "(other)" {
					t.Errorf("%s: day %d lists %s (%d visitors, below k)", v.name, d, value, n)
				}
				shown += n
			}
			e.est = append(e.est, float64(total-shown))
			e.tru = append(e.tru, float64(hiddenOn(d)))
		}
		e.check(t, "total minus shown rows")
	}
}

// TestAttackOneRecipientCampaign replays the campaign named after its one
// recipient: it showed that person's open, its hour, region and mail
// client. Now a campaign with fewer than k sends or opens shows its sends
// and nothing of its opens, for every viewer and every output.
func TestAttackOneRecipientCampaign(t *testing.T) {
	s := newAttackServer(t)
	answers := map[string]resp{}
	for _, p := range []string{"", "/breakdown/region", "/breakdown/client", "/breakdown/country", "/breakdown/client?format=csv"} {
		answers["token "+p] = s.api("/api/stats/example.com/campaigns/alice-smith"+p, apiToken)
		answers["admin "+p] = s.get("/api/stats/example.com/campaigns/alice-smith"+p, s.cookie)
	}
	answers["token list"] = s.api("/api/stats/example.com/campaigns", apiToken)
	for _, p := range []string{"/email", "/email/alice-smith", "/email/alice-smith/csv/region", "/email/alice-smith/csv/client"} {
		answers["share "+p] = s.get(s.share+p, "")
		answers["admin page "+p] = s.get("/sites/example.com"+p, s.cookie)
	}
	hour := d0.AddDate(0, 0, 3).Add(14 * time.Hour)
	for name, r := range answers {
		if r.status != 200 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
			continue
		}
		for _, leak := range []string{"DE-HB", "Bremen", "Gmail", hour.Format("2006-01-02T15"), "14:00", `"last"`} {
			if strings.Contains(r.body, leak) {
				t.Errorf("%s shows %q:\n%s", name, leak, r.body)
			}
		}
		if m := regexp.MustCompile(`"campaign":"alice-smith"[^}]*"(unique_)?opens":[1-9]`).FindString(r.body); m != "" {
			t.Errorf("%s shows alice-smith's opens: %s", name, m)
		}
	}
	var one struct {
		Campaign struct {
			Sent   int64
			Opens  int64
			BelowK bool `json:"below_k"`
		}
		Points []struct {
			Opens, UniqueOpens int64
			BelowK             bool `json:"below_k"`
		}
	}
	if err := json.Unmarshal([]byte(answers["token "].body), &one); err != nil {
		t.Fatal(err)
	}
	if one.Campaign.Sent != 1 || one.Campaign.Opens != 0 || !one.Campaign.BelowK || len(one.Points) == 0 {
		t.Errorf("campaign: %s", answers["token "].body)
	}
	for _, p := range one.Points {
		if !p.BelowK || p.Opens != 0 || p.UniqueOpens != 0 {
			t.Errorf("a point of the one-recipient campaign: %+v", p)
		}
	}
	// The campaign without sends and with one open is not there at all.
	for name, r := range map[string]resp{
		"token list": s.api("/api/stats/example.com/campaigns", apiToken), "share list": s.get(s.share+"/email", ""),
		"admin list": s.get("/sites/example.com/email", s.cookie),
	} {
		if strings.Contains(r.body, "no-sends-bob") {
			t.Errorf("%s lists the campaign opened once without sends", name)
		}
	}
	for _, r := range []resp{s.api("/api/stats/example.com/campaigns/no-sends-bob", apiToken), s.get(s.share+"/email/no-sends-bob", "")} {
		if r.status != http.StatusNotFound || strings.Contains(r.body, "no-sends-bob\"") {
			t.Errorf("the campaign opened once without sends: %d %s", r.status, r.body)
		}
	}
	// The campaign of many still shows.
	if r := s.api("/api/stats/example.com/campaigns/newsletter/breakdown/region", apiToken); !strings.Contains(r.body, `"value":"DE-BY"`) {
		t.Errorf("newsletter regions: %s", r.body)
	}
}

// TestAttackShareLinkOnAnotherSite tries example.com's share link, and its
// API token, on other.example in every way the routes allow.
func TestAttackShareLinkOnAnotherSite(t *testing.T) {
	s := newAttackServer(t)
	tok := strings.TrimPrefix(s.share, "/share/")
	tries := map[string]resp{}
	for _, p := range []string{
		"?site=other.example", "/csv/path?site=other.example&" + rangeOf(0, 29), "/email", "/email/other-secret",
		"/email/other-secret/csv/client", "/../../sites/other.example", "/email/..%2F..%2Fsites%2Fother.example",
	} {
		tries["share "+p] = s.get(s.share+p, "")
	}
	bearer := func(p, token string) resp { return s.api(p, token) }
	tries["share token as API token"] = bearer("/api/stats/example.com/totals", tok)
	tries["share token on other.example"] = bearer("/api/stats/other.example/breakdown/path?"+rangeOf(0, 29), tok)
	tries["example.com token on other.example"] = bearer("/api/stats/other.example/breakdown/path?"+rangeOf(0, 29), apiToken)
	tries["example.com token on other.example campaigns"] = bearer("/api/stats/other.example/campaigns", apiToken)
	tries["share token as session"] = s.get("/sites/other.example", "tally_session="+tok)
	for name, r := range tries {
		if strings.Contains(r.body, "other-secret") || strings.Contains(r.body, "other.example\"") && r.status == 200 {
			t.Errorf("%s: %d shows other.example's data:\n%s", name, r.status, r.body)
		}
	}
	for _, name := range []string{"share token as API token", "share token on other.example", "example.com token on other.example", "example.com token on other.example campaigns"} {
		if tries[name].status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, tries[name].status)
		}
	}
	if r := tries["share /email/other-secret"]; r.status != http.StatusNotFound {
		t.Errorf("the other site's campaign through the share link: %d", r.status)
	}
	// The link itself shows example.com, and the other site's own token
	// opens only the other site.
	if r := s.get(s.share+"?"+rangeOf(0, 29), ""); r.status != 200 || !strings.Contains(r.body, "<h1>example.com</h1>") {
		t.Errorf("the share link's own page: %d", r.status)
	}
	if r := s.api("/api/stats/example.com/totals", otherToken); r.status != http.StatusUnauthorized {
		t.Errorf("other.example's token on example.com: %d", r.status)
	}
}
