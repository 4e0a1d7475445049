package dashboards_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/dashboards"
	"tally/internal/fixture"
	"tally/sites"
)

// TestFilteredCardExplainsReasons: the filtered card names each reason in
// words and shows its share of all hits (counted and filtered), and the
// channels card sits next to the sources.
func TestFilteredCardExplainsReasons(t *testing.T) {
	sink := fixture.Empty(t)
	day := fixture.Day.Add(15 * time.Hour)
	rows := append([]fixture.Web{}, fixture.WebRows...)
	rows = append(rows,
		fixture.Web{Site: fixture.Site, Hour: day, Dimension: "filtered", Value: "datacenter", Hits: 23},
		fixture.Web{Site: fixture.Site, Hour: day, Dimension: "filtered", Value: "ai_agent", Hits: 100},
		fixture.Web{Site: fixture.Site, Hour: day, Dimension: "channel", Value: "ai", Hits: 40, Pageviews: 40, Visitors: 20},
		fixture.Web{Site: fixture.Site, Hour: day, Dimension: "channel", Value: "direct", Hits: 110, Pageviews: 110, Visitors: 40},
	)
	fixture.Insert(t, sink, rows, nil)
	reg, err := sites.Parse(strings.NewReader(`{"sites":[{"domain":"example.com","min_count_k":5,"api_tokens":["` + apiTokenHash + `"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dashboards.New(dashboards.Options{Conn: sink.Conn(), Sites: reg, AdminPassword: password,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	d.Register(app)
	s := &server{t: t, app: app}
	cookie, _ := s.signIn()
	page := s.get("/sites/example.com?"+rangeQ, cookie).body
	i := strings.Index(page, `id="filtered"`)
	if i < 0 {
		t.Fatalf("no filtered card:\n%s", page)
	}
	filtered := page[i:]
	filtered = filtered[:strings.Index(filtered, "</article>")]
	// All hits: 165 counted + 12 + 23 + 100 filtered = 300.
	for _, want := range []string{
		`title="ai_agent">AI crawlers, agents and assistants<`, ">100<", ">33.3%<",
		`title="datacenter">From a cloud or hosting network<`, ">23<", ">7.7%<",
		`title="bot">bot<`, ">4.0%<", // a value without words stays as it is
		"Share: of all hits, counted and filtered.",
	} {
		if !strings.Contains(filtered, want) {
			t.Errorf("the filtered card lacks %q:\n%s", want, filtered)
		}
	}
	src, ch := strings.Index(page, `id="source"`), strings.Index(page, `id="channel"`)
	if src < 0 || ch < src || !strings.Contains(page[ch:], `title="ai">AI assistants<`) {
		t.Errorf("no channels card after the sources card, with the ai channel")
	}
	if r := s.api("/api/stats/example.com/breakdown/channel?"+rangeQ, apiToken); r.status != 200 || !strings.Contains(r.body, `"ai"`) {
		t.Errorf("the API's channel breakdown: %d %s", r.status, r.body)
	}
}
