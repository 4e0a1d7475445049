package statement_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"tally/sites"
	"tally/statement"
)

const secret = "statement-test-secret-0123456789abcdef"

func site(t *testing.T, json string) *sites.Site {
	t.Helper()
	reg, err := sites.Parse(strings.NewReader(`{"sites":[` + json + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return reg.All()[0]
}

func write(t *testing.T, s statement.Settings, f statement.Format) string {
	t.Helper()
	var b strings.Builder
	if err := statement.Write(&b, s, f); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestStatementFollowsTheConfiguration: each setting the collector applies
// changes the sentence that describes it, and nothing else claims it.
func TestStatementFollowsTheConfiguration(t *testing.T) {
	base := statement.Settings{Regions: true, Retention: 400 * 24 * time.Hour, EmailWindow: 30 * 24 * time.Hour}
	f := func(name, siteJSON string, adjust func(*statement.Settings), want, wantNot []string) {
		t.Helper()
		s := base
		s.Site = site(t, siteJSON)
		if adjust != nil {
			adjust(&s)
		}
		out := write(t, s, statement.Markdown)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: missing %q in\n%s", name, w, out)
			}
		}
		for _, w := range wantNot {
			if strings.Contains(out, w) {
				t.Errorf("%s: should not say %q:\n%s", name, w, out)
			}
		}
	}
	f("anonymous, defaults", `{"domain":"example.com"}`, nil,
		[]string{"visits to example.com", "still counted as described above, anonymously", "country and region",
			"fewer than 5 visitors", "viewed for 400 days; they are not deleted automatically", "Global Privacy Control"},
		[]string{"only if you agree", "### E-mails", "Your location is not recorded", "deleted after", "exact counts"})
	f("strict", `{"domain":"example.com","consent_mode":"strict"}`, nil,
		[]string{"We record your visit only if you agree to analytics", "IAB TCF purpose 8"},
		[]string{"anonymously"})
	f("k of 12", `{"domain":"example.com","min_count_k":12}`, nil,
		[]string{"fewer than 12 visitors", "on our own dashboards or anywhere we share"}, []string{"fewer than 5 "})
	f("k of 0: the admin's view is exact", `{"domain":"example.com","min_count_k":0}`, nil,
		[]string{"Our own dashboard shows exact counts", "fewer than 5 visitors"}, nil)
	f("retention dropped", `{"domain":"example.com"}`, func(s *statement.Settings) { s.RetentionDrop, s.Retention = true, 90*24*time.Hour },
		[]string{"deleted after 90 days, a month at a time"}, []string{"not deleted automatically", "400 days"})
	f("no GeoIP", `{"domain":"example.com"}`, func(s *statement.Settings) { s.Regions = false },
		[]string{"Your location is not recorded"}, []string{"country and region"})
	f("e-mail, anonymous", `{"domain":"example.com","email_secret":"`+secret+`"}`, func(s *statement.Settings) { s.EmailWindow = 14 * 24 * time.Hour },
		[]string{"### E-mails", "We count openings per campaign", "once, for 14 days", "memory of e-mail openings after 14 days"},
		[]string{"Unless you agreed"})
	f("e-mail, strict", `{"domain":"example.com","consent_mode":"strict","email_secret":"`+secret+`"}`, nil,
		[]string{"Unless you agreed to this measurement when you subscribed, opening an e-mail only adds one", "for 30 days"}, nil)
	f("path rules", `{"domain":"example.com","path_rules":["/orders/*","/u/*"]}`, nil,
		[]string{`matching /orders/\*, /u/\* are replaced`}, nil)
}

// TestStatementHTMLIsEscaped: configured values cannot inject markup; the
// only tags are the statement's own.
func TestStatementHTMLIsEscaped(t *testing.T) {
	s := site(t, `{"domain":"example.com","path_rules":["/a<b>/*","/x&y/\"q\"/*"]}`)
	s.Domain = `<script>alert(1)</script>.example` // not a valid domain; built by hand to try
	out := write(t, statement.Settings{Site: s, Regions: true, Retention: time.Hour * 24, EmailWindow: time.Hour}, statement.HTML)
	for _, w := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;.example", "/a&lt;b&gt;/*", "/x&amp;y/&#34;q&#34;/*", "<h3>What we record</h3>"} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q in\n%s", w, out)
		}
	}
	if rest := regexp.MustCompile(`</?(h3|p)>`).ReplaceAllString(out, ""); strings.ContainsAny(rest, "<>") {
		t.Errorf("markup other than the statement's own:\n%s", rest)
	}
	md := write(t, statement.Settings{Site: s, Retention: time.Hour}, statement.Markdown)
	if strings.Contains(md, "<script>") || !strings.Contains(md, `\<script\>`) {
		t.Errorf("Markdown does not escape the configured values:\n%s", md)
	}
	if _, err := statement.ParseFormat("pdf"); err == nil {
		t.Error("an unknown format was accepted")
	}
}
