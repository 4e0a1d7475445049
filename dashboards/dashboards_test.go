package dashboards_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
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
	password = "correct horse battery"
	apiToken = "site-token-0123456789"
	// printf %s site-token-0123456789 | sha256sum
	apiTokenHash = "sha256:2e07f504f29ca4976a085551d150924ca74bb9b25acf0533d927d073bc5b96c5"
	// The fixture's current range: two days.
	rangeQ = "range=custom&from=2026-03-10&to=2026-03-11"
)

// now is half a day after the fixture's range.
var now = fixture.Day.Add(60 * time.Hour)

type server struct {
	t   *testing.T
	app *fiber.App
}

func newServer(t *testing.T, loaded bool, k int) *server {
	t.Helper()
	sink := fixture.Empty(t)
	if loaded {
		fixture.Insert(t, sink, fixture.WebRows, fixture.EmailRows)
	}
	// Strict mode: every counted hit has a visitor, so k counts visitors
	// as the fixture's numbers expect.
	reg, err := sites.Parse(strings.NewReader(`{"sites":[
		{"domain":"example.com","consent_mode":"strict","min_count_k":` + strconv.Itoa(k) + `,"api_tokens":["` + apiTokenHash + `"]},
		{"domain":"other.example"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dashboards.New(dashboards.Options{
		Conn: sink.Conn(), Sites: reg, AdminPassword: password,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	d.Register(app)
	return &server{t: t, app: app}
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (s *server) do(req *http.Request) resp {
	s.t.Helper()
	res, err := s.app.Test(req, 10000)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (s *server) get(path, cookie string) resp {
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return s.do(req)
}

func (s *server) post(path, cookie string, form url.Values) resp {
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	return s.do(req)
}

func (s *server) api(path, token string) resp {
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.do(req)
}

// adminAPI asks the API with the admin's session: the exact view.
func (s *server) adminAPI(path, cookie string) resp {
	return s.get(path, cookie)
}

// signIn returns the session cookie and the page's CSRF token.
func (s *server) signIn() (cookie, csrf string) {
	s.t.Helper()
	r := s.post("/login", "", url.Values{"user": {"admin"}, "password": {password}, "next": {"/sites/example.com"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/sites/example.com" {
		s.t.Fatalf("sign-in: %d %s", r.status, r.header.Get("Location"))
	}
	cookie = strings.Split(r.header.Get("Set-Cookie"), ";")[0]
	page := s.get("/sites/example.com/share", cookie)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page.body)
	if m == nil {
		s.t.Fatalf("no CSRF token on the share page: %s", page.body)
	}
	return cookie, m[1]
}

func TestEveryRouteRefusesAnonymous(t *testing.T) {
	s := newServer(t, true, 0)
	pages := []string{
		"/", "/sites/example.com", "/sites/example.com?" + rangeQ, "/sites/example.com/csv/path?" + rangeQ,
		"/sites/example.com/email", "/sites/example.com/email/spring", "/sites/example.com/email/spring/csv/client",
		"/sites/example.com/share", "/sites/nobody.example",
	}
	for _, p := range pages {
		r := s.get(p, "")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
			t.Errorf("GET %s: %d %q, want a redirect to sign in", p, r.status, r.header.Get("Location"))
		}
		if strings.Contains(r.body, "150") || strings.Contains(r.body, "pricing") {
			t.Errorf("GET %s leaks figures: %s", p, r.body)
		}
		// A forged or expired cookie is anonymous too.
		if r := s.get(p, "tally_session=9999999999.AAAA"); r.status != http.StatusSeeOther {
			t.Errorf("GET %s with a forged session: %d", p, r.status)
		}
	}
	for _, p := range []string{"/logout", "/sites/example.com/share", "/sites/example.com/share/abc/revoke"} {
		if r := s.post(p, "", url.Values{"label": {"x"}}); r.status != http.StatusUnauthorized {
			t.Errorf("POST %s: %d, want 401", p, r.status)
		}
	}
	apis := []string{
		"/api/stats/example.com/totals", "/api/stats/example.com/series", "/api/stats/example.com/breakdown/path",
		"/api/stats/example.com/campaigns", "/api/stats/example.com/campaigns/spring",
		"/api/stats/example.com/campaigns/spring/breakdown/client", "/api/stats/nobody.example/totals",
	}
	for _, p := range apis {
		for _, token := range []string{"", "wrong", apiTokenHash} {
			r := s.api(p+"?"+rangeQ, token)
			if r.status != http.StatusUnauthorized || strings.Contains(r.body, "150") {
				t.Errorf("GET %s with token %q: %d %s, want 401", p, token, r.status, r.body)
			}
		}
	}
	// A site's token opens only that site.
	if r := s.api("/api/stats/other.example/totals", apiToken); r.status != http.StatusUnauthorized {
		t.Errorf("token of example.com on other.example: %d", r.status)
	}
	// Unknown and malformed share tokens show nothing.
	for _, p := range []string{"/share/nope", "/share/" + strings.Repeat("A", 43), "/share/" + strings.Repeat("A", 43) + "/csv/path"} {
		if r := s.get(p, ""); r.status != http.StatusNotFound || strings.Contains(r.body, "pricing") {
			t.Errorf("GET %s: %d", p, r.status)
		}
	}
}

func TestSignIn(t *testing.T) {
	s := newServer(t, false, 0)
	if r := s.post("/login", "", url.Values{"user": {"admin"}, "password": {"wrong"}}); r.status != http.StatusUnauthorized ||
		!strings.Contains(r.body, "Wrong user name or password") || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("wrong password: %d %s", r.status, r.header.Get("Set-Cookie"))
	}
	// Open redirects are refused.
	r := s.post("/login", "", url.Values{"user": {"admin"}, "password": {password}, "next": {"//evil.example/"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("next=//evil.example: %d %s", r.status, r.header.Get("Location"))
	}
	cookie, csrf := s.signIn()
	if r := s.get("/", cookie); r.status != http.StatusOK {
		t.Fatalf("home after sign-in: %d", r.status)
	}
	if r := s.post("/logout", cookie, url.Values{"csrf": {"bad"}}); r.status != http.StatusForbidden {
		t.Fatalf("logout without CSRF token: %d", r.status)
	}
	if r := s.post("/logout", cookie, url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther ||
		!strings.Contains(r.header.Get("Set-Cookie"), "tally_session=;") {
		t.Fatalf("logout: %d %s", r.status, r.header.Get("Set-Cookie"))
	}
}

func TestNewRefusesWeakAdminConfig(t *testing.T) {
	reg, _ := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com"}]}`))
	conn := fixture.Empty(t).Conn()
	if _, err := dashboards.New(dashboards.Options{Conn: conn, Sites: reg}); err == nil {
		t.Error("started without a password")
	}
	if _, err := dashboards.New(dashboards.Options{Conn: conn, Sites: reg, AdminPassword: "short"}); err == nil {
		t.Error("started with a short password")
	}
	if _, err := dashboards.New(dashboards.Options{Conn: conn, Sites: reg, Dev: true}); err != nil {
		t.Errorf("dev mode: %v", err)
	}
}

// TestPages executes every page with real data and with empty data.
func TestPages(t *testing.T) {
	for _, loaded := range []bool{true, false} {
		s := newServer(t, loaded, 5)
		cookie, _ := s.signIn()
		check := func(path string, status int, want ...string) {
			t.Helper()
			r := s.get(path, cookie)
			if r.status != status {
				t.Errorf("loaded=%v GET %s: %d, want %d: %s", loaded, path, r.status, status, r.body)
				return
			}
			for _, w := range want {
				if !strings.Contains(r.body, w) {
					t.Errorf("loaded=%v GET %s: no %q in page", loaded, path, w)
				}
			}
		}
		check("/login", 200, "Sign in")
		if loaded {
			check("/", 200, "example.com", "other.example")
			check("/sites/example.com?"+rangeQ, 200,
				`data-kpi="visitors">60<`, `data-kpi="pageviews">150<`, `data-kpi="hits">165<`,
				`&#43;100%`, // visitors 60 against 30 (html/template escapes +)
				"<svg", "Bayern, Germany", "Germany", "(direct / none)", "/pricing", "(other)",
				"3 values below the privacy threshold of 5 visitors folded into (other)")
			check("/sites/example.com/email", 200, "spring", "25.0%", "1,000", "winter")
			check("/sites/example.com/email/spring", 200, `data-kpi="sent">1,000<`, `data-kpi="open_rate">25.0%<`, "Gmail", "<svg")
			check("/sites/example.com/email/nope", 404, "no sends or opens")
		} else {
			check("/", 200, "example.com")
			check("/sites/example.com?"+rangeQ, 200, "No data yet", "data-domain=&#34;example.com&#34;", "No data in this range")
			check("/sites/example.com/email", 200, "No email campaigns yet")
		}
		check("/sites/example.com/share", 200, "No share links yet")
		check("/sites/nobody.example", 404, "no site with this name")
		check("/sites/example.com?range=custom&from=2026-02-30&to=2026-03-01", 400, "is not a date")
		check("/sites/example.com?range=custom&from=2020-01-01&to=2020-01-02", 400, "data is kept for 400 days")
		check("/sites/example.com?range=fortnight", 400, "unknown range")
		check("/sites/example.com/csv/ip?"+rangeQ, 400, "unknown dimension")
		check("/assets/app.css", 200, "prefers-color-scheme")
	}
}

func TestAPI(t *testing.T) {
	s := newServer(t, true, 5)
	cookie, _ := s.signIn()
	var totals struct {
		Current, Previous struct{ Hits, Pageviews, Visitors int64 }
		Change            struct{ Visitors, Pageviews *float64 }
		Privacy           struct{ Exact bool }
	}
	r := s.adminAPI("/api/stats/example.com/totals?"+rangeQ, cookie)
	if r.status != 200 {
		t.Fatalf("totals: %d %s", r.status, r.body)
	}
	json.Unmarshal([]byte(r.body), &totals)
	if totals.Current.Pageviews != 150 || totals.Current.Visitors != 60 || totals.Current.Hits != 165 || !totals.Privacy.Exact ||
		totals.Previous.Pageviews != 60 || totals.Previous.Visitors != 30 || *totals.Change.Visitors != 1 || *totals.Change.Pageviews != 1.5 {
		t.Fatalf("totals: %s", r.body)
	}

	var bd struct {
		Rows []struct {
			Value    string
			Name     string
			Visitors int64
		}
		Other  *struct{ Visitors, Pageviews int64 }
		Folded int64
		K      int
	}
	r = s.adminAPI("/api/stats/example.com/breakdown/path?"+rangeQ, cookie)
	json.Unmarshal([]byte(r.body), &bd)
	if len(bd.Rows) != 3 || bd.Rows[0].Value != "/" || bd.Rows[1].Value != "/pricing" || bd.Rows[2].Value != "/blog/a" ||
		bd.Other == nil || bd.Other.Visitors != 5 || bd.Folded != 3 || bd.K != 5 {
		t.Fatalf("path breakdown: %s", r.body)
	}
	r = s.adminAPI("/api/stats/example.com/breakdown/region?limit=1&"+rangeQ, cookie)
	bd.Rows = nil
	json.Unmarshal([]byte(r.body), &bd)
	if len(bd.Rows) != 1 || bd.Rows[0].Value != "DE-BY" || bd.Rows[0].Name != "Bayern, Germany" {
		t.Fatalf("region breakdown: %s", r.body)
	}

	r = s.adminAPI("/api/stats/example.com/series?interval=day&"+rangeQ, cookie)
	var series struct{ Points []struct{ Pageviews int64 } }
	json.Unmarshal([]byte(r.body), &series)
	if len(series.Points) != 2 || series.Points[0].Pageviews != 100 || series.Points[1].Pageviews != 50 {
		t.Fatalf("series: %s", r.body)
	}
	for _, tok := range []string{"", apiToken} {
		r := s.adminAPI("/api/stats/example.com/series?dimension=path&value=/rare1&"+rangeQ, cookie)
		if tok != "" {
			r = s.api("/api/stats/example.com/series?dimension=path&value=/rare1&"+rangeQ, tok)
		}
		if r.status != 400 {
			t.Fatalf("series of a folded value: %d %s", r.status, r.body)
		}
	}

	r = s.adminAPI("/api/stats/example.com/campaigns", cookie)
	if r.status != 200 || !strings.Contains(r.body, `"campaign":"spring"`) || !strings.Contains(r.body, `"open_rate":0.25`) || strings.Contains(r.body, "secret") {
		t.Fatalf("campaigns: %s", r.body)
	}
	r = s.adminAPI("/api/stats/example.com/campaigns/spring/breakdown/client", cookie)
	if r.status != 200 || !strings.Contains(r.body, `"value":"Gmail"`) || strings.Contains(r.body, "Outlook") {
		t.Fatalf("campaign clients (Outlook's 2 unique opens are below k): %s", r.body)
	}
	for _, p := range []string{"/api/stats/example.com/campaigns/nope", "/api/stats/example.com/campaigns/nope/breakdown/client"} {
		if r := s.api(p, apiToken); r.status != 404 {
			t.Fatalf("%s: %d", p, r.status)
		}
	}

	for _, bad := range []string{
		"/api/stats/example.com/breakdown/ip?" + rangeQ,
		"/api/stats/example.com/breakdown/path?limit=100000&" + rangeQ,
		"/api/stats/example.com/breakdown/path?limit=abc&" + rangeQ,
		"/api/stats/example.com/totals?range=custom&from=2026-03-10&to=yesterday",
		"/api/stats/example.com/totals?range=custom&from=2024-01-01&to=2024-01-02",
		"/api/stats/example.com/series?interval=minute&" + rangeQ,
		"/api/stats/example.com/series?interval=hour&range=custom&from=2025-03-01&to=2026-03-01",
	} {
		r := s.api(bad, apiToken)
		if r.status != 400 || !strings.Contains(r.body, `"error"`) {
			t.Errorf("GET %s: %d %s, want 400", bad, r.status, r.body)
		}
	}
}

func TestCSV(t *testing.T) {
	s := newServer(t, true, 5)
	cookie, _ := s.signIn()
	r := s.get("/sites/example.com/csv/path?"+rangeQ, cookie)
	want := "value,name,visitors,pageviews,hits,visits,exits\n/,,30,80,80,0,0\n/pricing,,15,40,40,0,0\n/blog/a,,10,20,20,0,0\n(other),,5,10,10,0,0\n"
	if r.status != 200 || r.body != want || !strings.Contains(r.header.Get("Content-Disposition"), "example.com-path-2026-03-10-2026-03-11.csv") {
		t.Fatalf("path CSV: %d %q %s", r.status, r.body, r.header.Get("Content-Disposition"))
	}
	r = s.get("/sites/example.com/csv/country?"+rangeQ, cookie)
	if want := "value,name,visitors,pageviews,hits,visits,exits\nDE,Germany,40,100,100,0,0\nUS,United States,20,50,50,0,0\n"; r.body != want {
		t.Fatalf("country CSV: %q", r.body)
	}
	r = s.get("/sites/example.com/email/spring/csv/client", cookie)
	if want := "value,name,sent,opens,unique_opens,machine_opens,clicks,unique_clicks,machine_clicks,implied_opens\nGmail,,0,200,128,0,0,0,0,0\nApple Mail,,0,190,120,0,0,0,0,0\n"; r.body != want {
		t.Fatalf("client CSV: %q", r.body)
	}
	r = s.adminAPI("/api/stats/example.com/breakdown/device?format=csv&"+rangeQ, cookie)
	if want := "value,name,visitors,pageviews,hits,visits,exits\ndesktop,,40,100,100,0,0\nphone,,20,50,50,0,0\n"; r.body != want {
		t.Fatalf("API CSV: %q", r.body)
	}
	// With a token: the same rows, noisy.
	r = s.api("/api/stats/example.com/breakdown/device?format=csv&"+rangeQ, apiToken)
	if lines := strings.Split(strings.TrimSpace(r.body), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "desktop,,") || !strings.HasPrefix(lines[2], "phone,,") {
		t.Fatalf("API CSV with a token: %q", r.body)
	}
}

func TestShareLinks(t *testing.T) {
	s := newServer(t, true, 0)
	cookie, csrf := s.signIn()
	if r := s.post("/sites/example.com/share", cookie, url.Values{"label": {"agency"}}); r.status != http.StatusForbidden {
		t.Fatalf("create without CSRF token: %d", r.status)
	}
	r := s.post("/sites/example.com/share", cookie, url.Values{"label": {"agency"}, "csrf": {csrf}})
	m := regexp.MustCompile(`value="http://example.com(/share/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	link := m[1]
	r = s.get(link+"?"+rangeQ, "")
	// Shared views fold at the default k (the admin's k is 0 here) and
	// carry noise: 150 page views show as about 150.
	pv := regexp.MustCompile(`data-kpi="pageviews">([0-9,]+)<`).FindStringSubmatch(r.body)
	if r.status != 200 || pv == nil || !strings.Contains(r.body, "Read-only") || !strings.Contains(r.body, "small fixed random offset") ||
		strings.Contains(r.body, "/share\"") || r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("shared view: %d", r.status)
	}
	if n, _ := strconv.Atoi(strings.ReplaceAll(pv[1], ",", "")); n < 120 || n > 180 {
		t.Fatalf("shared view shows %s page views, want about 150", pv[1])
	}
	for _, p := range []string{"/csv/path?" + rangeQ, "/email", "/email/spring"} {
		if r := s.get(link+p, ""); r.status != 200 {
			t.Errorf("shared %s: %d", p, r.status)
		}
	}
	// The link does not open the admin pages or another site.
	if r := s.get("/sites/other.example", ""); r.status != http.StatusSeeOther {
		t.Fatalf("admin page through a share link: %d", r.status)
	}

	list := s.get("/sites/example.com/share", cookie)
	id := regexp.MustCompile(`/share/([0-9a-f]{16})/revoke`).FindStringSubmatch(list.body)
	if id == nil {
		t.Fatalf("no revoke form: %s", list.body)
	}
	if r := s.post("/sites/example.com/share/"+id[1]+"/revoke", cookie, url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := s.get(link, ""); r.status != 404 || strings.Contains(r.body, "150") {
		t.Fatalf("revoked link: %d", r.status)
	}
}
