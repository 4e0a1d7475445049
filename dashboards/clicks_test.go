package dashboards_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/aggregator"
	"tally/counter"
	"tally/dashboards"
	"tally/internal/fixture"
	"tally/sites"
)

// clickServer serves campaigns with clicks and machine activity at k = 5:
//
//   - launch: sent 1000 three days before the fixture day; in its first
//     hour 300 opens (200 unique, 10 implied by a click), 60 clicks (40
//     unique), machines 150 opens and 25 clicks; hour 30 adds 3 opens and
//     2 clicks (below k), hour 50 adds 20 opens and 10 clicks (8 unique).
//   - few-clicks: sent 100, 50 opens (40 unique), 2 clicks.
//   - tiny: sent 3, 2 opens, 2 clicks.
func clickServer(t *testing.T) *server {
	t.Helper()
	sink := fixture.Empty(t)
	start := fixture.Day.Add(-3*24*time.Hour + 9*time.Hour)
	b := aggregator.NewBatch()
	add := func(campaign string, hour int, dim, value string, c counter.EmailCounts) {
		k := counter.EmailKey{Site: fixture.Site, Campaign: campaign, Hour: start.Add(time.Duration(hour) * time.Hour).Unix(), Dimension: dim, Value: value}
		cur := b.Email[k]
		cur.Add(c)
		b.Email[k] = cur
	}
	add("launch", 0, counter.DimTotal, "", counter.EmailCounts{Sent: 1000})
	add("launch", 1, counter.DimTotal, "", counter.EmailCounts{Opens: 300, UniqueOpens: 200, ImpliedOpens: 10, Clicks: 60, UniqueClicks: 40, MachineOpens: 150, MachineClicks: 25})
	add("launch", 30, counter.DimTotal, "", counter.EmailCounts{Opens: 3, UniqueOpens: 3, Clicks: 2, UniqueClicks: 2})
	add("launch", 50, counter.DimTotal, "", counter.EmailCounts{Opens: 20, UniqueOpens: 20, Clicks: 10, UniqueClicks: 8})
	add("launch", 1, counter.DimLink, counter.LinkValue("cta", "shop.example.com/spring"), counter.EmailCounts{Clicks: 50, UniqueClicks: 35, MachineClicks: 15})
	add("launch", 1, counter.DimLink, counter.LinkValue("logo", "shop.example.com/"), counter.EmailCounts{Clicks: 12, UniqueClicks: 10, MachineClicks: 5})
	add("launch", 1, counter.DimLink, counter.LinkValue("footer", "shop.example.com/unsubscribe"), counter.EmailCounts{Clicks: 3, UniqueClicks: 3, MachineClicks: 5})
	add("launch", 1, counter.DimMachine, counter.MachineApplePrivacy, counter.EmailCounts{MachineOpens: 120})
	add("launch", 1, counter.DimMachine, counter.MachineGmailPrefetch, counter.EmailCounts{MachineOpens: 30})
	add("launch", 1, counter.DimMachine, counter.MachineBurst, counter.EmailCounts{MachineClicks: 15})
	add("launch", 1, counter.DimMachine, counter.MachineHoneypot, counter.EmailCounts{MachineClicks: 5})
	add("launch", 1, counter.DimMachine, counter.MachineHead, counter.EmailCounts{MachineClicks: 5})
	add("launch", 1, counter.DimClient, "Gmail (via proxy)", counter.EmailCounts{Opens: 200, UniqueOpens: 150})
	add("launch", 1, counter.DimClient, "Chrome", counter.EmailCounts{Clicks: 60, UniqueClicks: 40, Opens: 10, UniqueOpens: 10, ImpliedOpens: 10})
	add("launch", 1, counter.DimClient, "Apple Mail (privacy proxy)", counter.EmailCounts{MachineOpens: 120})
	add("few-clicks", 0, counter.DimTotal, "", counter.EmailCounts{Sent: 100})
	add("few-clicks", 2, counter.DimTotal, "", counter.EmailCounts{Opens: 50, UniqueOpens: 40, Clicks: 2, UniqueClicks: 2})
	add("few-clicks", 2, counter.DimLink, counter.LinkValue("cta", "shop.example.com/spring"), counter.EmailCounts{Clicks: 2, UniqueClicks: 2})
	add("tiny", 0, counter.DimTotal, "", counter.EmailCounts{Sent: 3})
	add("tiny", 2, counter.DimTotal, "", counter.EmailCounts{Opens: 2, UniqueOpens: 2, Clicks: 2, UniqueClicks: 2})
	add("tiny", 2, counter.DimLink, counter.LinkValue("cta", "shop.example.com/spring"), counter.EmailCounts{Clicks: 2, UniqueClicks: 2})
	if err := sink.Write(context.Background(), b, ""); err != nil {
		t.Fatal(err)
	}
	reg, err := sites.Parse(strings.NewReader(`{"sites":[
		{"domain":"example.com","consent_mode":"strict","min_count_k":5,"api_tokens":["` + apiTokenHash + `"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dashboards.New(dashboards.Options{Conn: sink.Conn(), Sites: reg, AdminPassword: password, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	d.Register(app)
	return &server{t: t, app: app}
}

type campaignJSON struct {
	Campaign struct {
		Sent, Opens, UniqueOpens, ImpliedOpens, MachineOpens int64
		Clicks, UniqueClicks, MachineClicks                  int64
		BelowK, ClicksBelowK, MachineBelowK                  bool
		OpenRate, ClickRate, ClickToOpenRate                 float64
		MachineOpenShare, MachineClickShare                  float64
	} `json:"campaign"`
	FirstHours []struct {
		Hour                                int
		Opens, UniqueOpens, ImpliedOpens    int64
		Clicks, UniqueClicks                int64
		MachineOpens, MachineClicks         int64
		BelowK, ClicksBelowK, MachineBelowK bool
		OpenRate, ClickRate                 float64
	} `json:"firsthours"`
}

// snake turns the API's snake_case keys into the test structs' field
// names, so encoding/json matches them.
func decodeCampaign(t *testing.T, body string) campaignJSON {
	t.Helper()
	var v campaignJSON
	re := regexp.MustCompile(`"([a-z]+(?:_[a-z]+)+)":`)
	body = re.ReplaceAllStringFunc(body, func(m string) string { return strings.ReplaceAll(m, "_", "") })
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

// TestCampaignClicksAdmin: the admin's exact view answers how many people
// opened and clicked, which links, and how much was machines, with the
// rates from people; links and values below k stay folded.
func TestCampaignClicksAdmin(t *testing.T) {
	s := clickServer(t)
	cookie, _ := s.signIn()
	r := s.adminAPI("/api/stats/example.com/campaigns/launch", cookie)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	c := decodeCampaign(t, r.body)
	got := c.Campaign
	if got.Opens != 323 || got.UniqueOpens != 223 || got.ImpliedOpens != 10 || got.Clicks != 72 || got.UniqueClicks != 50 ||
		got.MachineOpens != 150 || got.MachineClicks != 25 || got.BelowK || got.ClicksBelowK || got.MachineBelowK {
		t.Fatalf("campaign %+v", got)
	}
	if got.OpenRate != 0.223 || got.ClickRate != 0.05 || got.ClickToOpenRate != 50.0/223 ||
		got.MachineOpenShare != 150.0/473 || got.MachineClickShare != 25.0/97 {
		t.Fatalf("rates %+v", got)
	}
	// The first 72 hours move in steps of at least k.
	if len(c.FirstHours) != 72 {
		t.Fatalf("%d first hours: %s", len(c.FirstHours), r.body)
	}
	at := func(h int) (int64, int64) { p := c.FirstHours[h-1]; return p.UniqueOpens, p.UniqueClicks }
	for h, want := range map[int][2]int64{1: {0, 0}, 2: {200, 40}, 30: {200, 40}, 31: {200, 40}, 50: {200, 40}, 51: {223, 50}, 72: {223, 50}} {
		if o, cl := at(h); o != want[0] || cl != want[1] {
			t.Errorf("hour %d: %d unique opens, %d unique clicks; want %v", h, o, cl, want)
		}
	}
	if p := c.FirstHours[71]; p.OpenRate != 0.223 || p.ClickRate != 0.05 {
		t.Errorf("rates at 72h: %+v", p)
	}
	if p := c.FirstHours[0]; !p.BelowK || !p.ClicksBelowK {
		t.Errorf("the send hour, before any open: %+v", p)
	}

	links := s.adminAPI("/api/stats/example.com/campaigns/launch/breakdown/link", cookie)
	if !strings.Contains(links.body, `"value":"cta shop.example.com/spring"`) || !strings.Contains(links.body, `"unique_clicks":35`) ||
		strings.Contains(links.body, "footer") || !strings.Contains(links.body, `"folded":1`) {
		t.Errorf("links: %s", links.body)
	}
	machines := s.adminAPI("/api/stats/example.com/campaigns/launch/breakdown/machine", cookie)
	for _, want := range []string{`"value":"apple_mpp"`, `"machine_opens":120`, `"value":"scanner_burst"`, `"value":"honeypot"`, `"value":"scanner_head"`} {
		if !strings.Contains(machines.body, want) {
			t.Errorf("machines lack %s: %s", want, machines.body)
		}
	}

	page := s.get("/sites/example.com/email/launch", cookie)
	for _, want := range []string{
		`data-kpi="clicks">72<`, `data-kpi="unique_clicks">50<`, `data-kpi="click_rate">5.0%<`, `data-kpi="click_to_open">22.4%<`,
		`data-kpi="open_rate">22.3%<`, `data-kpi="machine_opens">150<`, `data-kpi="machine_clicks">25<`, `data-kpi="implied_opens">10<`,
		`implied by a click`, `class="chart rates"`, "cta → shop.example.com/spring", "Apple Mail Privacy Protection", "Gmail delivery prefetch",
		"Honeypot link", "Scanner bursts", "Link checks (HEAD)", "Gmail (via proxy)", "count people only",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the campaign page lacks %q", want)
		}
	}
	if strings.Contains(page.body, "/unsubscribe") {
		t.Error("the page shows a link clicked by fewer than k")
	}
	hours := s.get("/sites/example.com/email/launch/csv/hours", cookie)
	lines := strings.Split(strings.TrimSpace(hours.body), "\n")
	if len(lines) != 73 || !strings.HasPrefix(lines[0], "hour,sent,opens,unique_opens") || !strings.HasPrefix(lines[72], "72,1000,323,223,10,72,50,150,25,0.2230,0.0500,") {
		t.Errorf("hours CSV (%d lines): %s … %s", len(lines), lines[0], lines[len(lines)-1])
	}
	summary := s.get("/sites/example.com/email/launch/csv/summary", cookie)
	if !strings.Contains(summary.body, "launch,2026-03-07,1000,323,223,10,150,72,50,25,0.2230,0.0500,0.2242,") {
		t.Errorf("summary CSV: %s", summary.body)
	}
	if api := s.adminAPI("/api/stats/example.com/campaigns/launch?format=hours.csv", cookie); api.body != hours.body {
		t.Errorf("the API's hours CSV differs from the page's")
	}
}

// TestCampaignClicksBelowK: a campaign clicked by fewer than k shows its
// opens and no clicks, click rate or link; one sent to fewer than k shows
// nothing but its sends, anywhere.
func TestCampaignClicksBelowK(t *testing.T) {
	s := clickServer(t)
	cookie, _ := s.signIn()
	for _, who := range []struct {
		name string
		get  func(string) resp
	}{{"admin", func(p string) resp { return s.adminAPI(p, cookie) }}, {"token", func(p string) resp { return s.api(p, apiToken) }}} {
		few := decodeCampaign(t, who.get("/api/stats/example.com/campaigns/few-clicks").body)
		if few.Campaign.BelowK || !few.Campaign.ClicksBelowK || few.Campaign.Clicks != 0 || few.Campaign.ClickRate != 0 || few.Campaign.ClickToOpenRate != 0 {
			t.Errorf("%s: few-clicks %+v", who.name, few.Campaign)
		}
		for _, p := range few.FirstHours {
			if p.Clicks != 0 || !p.ClicksBelowK {
				t.Errorf("%s: few-clicks hour %+v", who.name, p)
			}
		}
		if l := who.get("/api/stats/example.com/campaigns/few-clicks/breakdown/link"); strings.Contains(l.body, "cta") {
			t.Errorf("%s: a link of 2 clicks: %s", who.name, l.body)
		}
		tiny := decodeCampaign(t, who.get("/api/stats/example.com/campaigns/tiny").body)
		if !tiny.Campaign.BelowK || !tiny.Campaign.ClicksBelowK || tiny.Campaign.Clicks != 0 || tiny.Campaign.Opens != 0 || tiny.Campaign.Sent != 3 {
			t.Errorf("%s: tiny %+v", who.name, tiny.Campaign)
		}
		for _, p := range tiny.FirstHours {
			if p.Clicks != 0 || p.Opens != 0 {
				t.Errorf("%s: tiny hour %+v", who.name, p)
			}
		}
		for _, dim := range []string{"link", "client", "machine", "country"} {
			if b := who.get("/api/stats/example.com/campaigns/tiny/breakdown/" + dim); !strings.Contains(b.body, `"rows":[]`) || strings.Contains(b.body, "other") {
				t.Errorf("%s: tiny %s: %s", who.name, dim, b.body)
			}
		}
	}
	page := s.get("/sites/example.com/email/few-clicks", cookie)
	if !strings.Contains(page.body, `data-kpi="clicks">&lt; 5<`) || strings.Contains(page.body, `data-kpi="click_rate"`) {
		t.Errorf("few-clicks page: clicks not withheld")
	}
	if csv := s.get("/sites/example.com/email/tiny/csv/summary", cookie); !strings.Contains(csv.body, "tiny,2026-03-07,3,0,0,0,0,0,0,0,") {
		t.Errorf("tiny summary CSV: %s", csv.body)
	}
}

// TestCampaignClicksShared: a share token sees noisy counts, each of at
// least k, never the link below k.
func TestCampaignClicksShared(t *testing.T) {
	s := clickServer(t)
	c := decodeCampaign(t, s.api("/api/stats/example.com/campaigns/launch", apiToken).body)
	got := c.Campaign
	if got.ClicksBelowK || got.UniqueClicks < 5 || got.Clicks < 5 || got.UniqueClicks > 80 || got.MachineBelowK || got.UniqueOpens < 150 {
		t.Errorf("shared launch %+v", got)
	}
	if got.Clicks == 72 && got.UniqueClicks == 50 && got.MachineClicks == 25 && got.ImpliedOpens == 10 {
		t.Error("the shared view is exact")
	}
	links := s.api("/api/stats/example.com/campaigns/launch/breakdown/link", apiToken)
	if strings.Contains(links.body, "footer") || !strings.Contains(links.body, "cta shop.example.com/spring") {
		t.Errorf("shared links: %s", links.body)
	}
	for _, p := range c.FirstHours {
		if !p.ClicksBelowK && p.UniqueClicks < 5 || !p.BelowK && p.UniqueOpens < 5 {
			t.Errorf("a shared point below k: %+v", p)
		}
	}
}
