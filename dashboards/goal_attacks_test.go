package dashboards_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestGoalPropAttacks: the attacks of attacks_test.go on the breakdowns
// under a goal. The values below k (Signup's plan "team", 3 visitors, and
// "enterprise", 2; Rare's x, y and z, 2 each under a goal of 2) must not
// show through a filter, a prefix of a filter, a goal name that reaches
// into the value, or the "(other)" of a withheld goal, in the API (JSON
// and CSV) of a token or in a share link's CSV. The same attack on the
// admin's view at k 0 finds them, so the attack code would catch a leak.
func TestGoalPropAttacks(t *testing.T) {
	s := newGoalServer(t, 0)
	cookie, csrf := s.signIn()
	r := s.post("/sites/example.com/share", cookie, url.Values{"label": {"attack"}, "csrf": {csrf}})
	m := regexp.MustCompile(`value="http://example.com(/share/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("share link: %d", r.status)
	}
	link := m[1]
	secrets := []string{"team", "enterprise", "plan\\tx", "plan\\ty", "plan\\tz", "plan,x", "plan,y", "plan,z"}
	leaks := func(body string) string {
		for _, s := range secrets {
			if strings.Contains(body, s) {
				return s
			}
		}
		return ""
	}
	type probe struct{ goal, filter string }
	var probes []probe
	for _, f := range []string{"", "t", "te", "team", "e", "ent", "enterprise", "plan", "x", "y", "z", "plan\tx"} {
		probes = append(probes, probe{"Signup", f}, probe{"Rare", f})
	}
	// Goal names that reach into the values, and prop's own rows.
	probes = append(probes, probe{"Signup\tplan", ""}, probe{"Rare\tplan", "x"})
	found := 0
	for _, p := range probes {
		q := "goal=" + url.QueryEscape(p.goal) + "&filter=" + url.QueryEscape(p.filter) + "&" + rangeQ
		for _, out := range []struct {
			name string
			r    resp
		}{
			{"token JSON", s.api("/api/stats/example.com/breakdown/goal_prop?"+q, apiToken)},
			{"token CSV", s.api("/api/stats/example.com/breakdown/goal_prop?format=csv&"+q, apiToken)},
			{"share CSV", s.get(link+"/csv/goal_prop?"+q, "")},
		} {
			if l := leaks(out.r.body); l != "" {
				t.Errorf("%s %q filter %q: %q shows: %s", out.name, p.goal, p.filter, l, out.r.body)
			}
			if p.filter != "" && strings.Contains(out.r.body, "(other)") {
				t.Errorf("%s %q filter %q: a filtered answer has (other)", out.name, p.goal, p.filter)
			}
			if p.goal == "Rare" && (strings.Contains(out.r.body, "(other)") || strings.Contains(out.r.body, `"hits":`)) {
				t.Errorf("%s: the withheld goal Rare has a breakdown: %s", out.name, out.r.body)
			}
		}
		if l := leaks(s.adminAPI("/api/stats/example.com/breakdown/goal_prop?"+q, cookie).body); l != "" {
			found++
		}
	}
	if found < 8 {
		t.Fatalf("the attack finds the small values in the admin's exact view %d times: it proves nothing", found)
	}
	// A value cannot be singled out by asking for it as the goal either.
	for _, g := range []string{"", "Signup\tplan", "Signup\tplan\tteam"} {
		if r := s.api("/api/stats/example.com/breakdown/goal_prop?goal="+url.QueryEscape(g)+"&"+rangeQ, apiToken); r.status != 400 {
			t.Errorf("goal %q: %d %s", g, r.status, r.body)
		}
	}
	// The shared page never lists them either.
	if l := leaks(strings.ReplaceAll(s.get(link+"?"+rangeQ, "").body, "plan = ", "plan,")); l != "" {
		t.Errorf("the shared page shows %q", l)
	}
}
