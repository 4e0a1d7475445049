package privacy

import (
	"testing"

	"tally/dashboards/stats"
)

// TestConversions: a goal below k is withheld, and its revenue with it
// even where the revenue's own count passes k; a currency of fewer than k
// conversions is withheld on its own; the admin's view is exact; a shared
// view noises the amount in units of its mean, the same on every ask;
// funnel steps and coverage counts are withheld below k.
func TestConversions(t *testing.T) {
	admin, shared := Admin(site), Shared(site, newTestNoise(t))
	rare := stats.Totals{Current: stats.WebCounts{Hits: 9, Visitors: 2}, Previous: stats.WebCounts{Hits: 40, Visitors: 30}}
	big := stats.Totals{Current: stats.WebCounts{Hits: 400, Visitors: 300}, Previous: stats.WebCounts{Hits: 200, Visitors: 150}}
	rt := stats.RevenueTotals{Goal: "Signup", Currency: "EUR",
		Current: stats.Money{Conversions: 9, Micros: 90_000_000}, Previous: stats.Money{Conversions: 40, Micros: 400_000_000}}

	for _, p := range []Policy{admin, shared} {
		g := p.Goal("Rare", rare, r2)
		if !g.Current.BelowK || g.Current.Hits != 0 || g.Previous.BelowK {
			t.Errorf("exact %v: a goal of 2 converters: %+v", p.Exact(), g)
		}
		rv := p.Revenue(rt, g, r2)
		if !rv.Current.BelowK || rv.Current.Micros != 0 || rv.Previous.BelowK {
			t.Errorf("exact %v: revenue of a withheld goal: %+v", p.Exact(), rv)
		}
		one := stats.RevenueTotals{Goal: "Signup", Currency: "USD", Current: stats.Money{Conversions: 1, Micros: 9_990_000}}
		if rv := p.Revenue(one, p.Goal("Signup", big, r2), r2); !rv.Current.BelowK || rv.Current.Micros != 0 {
			t.Errorf("exact %v: one purchase in USD: %+v", p.Exact(), rv)
		}
		step := p.FunnelStep(stats.FunnelStep{Funnel: "F", Step: 3, WebCounts: stats.WebCounts{Hits: 3, Visitors: 3}}, r2)
		if !step.BelowK || step.Visitors != 0 {
			t.Errorf("exact %v: a funnel step of 3: %+v", p.Exact(), step)
		}
		on, off := p.Coverage(stats.WebCounts{Hits: 900, Pageviews: 800}, stats.WebCounts{Hits: 2, Pageviews: 2}, r2)
		if on.BelowK || !off.BelowK {
			t.Errorf("exact %v: coverage %+v %+v", p.Exact(), on, off)
		}
	}

	many := stats.RevenueTotals{Goal: "Signup", Currency: "EUR", Current: stats.Money{Conversions: 300, Micros: 3_750_000_000}}
	if rv := admin.Revenue(many, admin.Goal("Signup", big, r2), r2); rv.Current != many.Current {
		t.Errorf("the admin's revenue is not exact: %+v", rv.Current)
	}
	a := shared.Revenue(many, shared.Goal("Signup", big, r2), r2)
	b := shared.Revenue(many, shared.Goal("Signup", big, r2), r2)
	if a != b {
		t.Fatalf("the noise changes between asks: %+v then %+v", a, b)
	}
	// Noise of k/2 conversions of 12.50 per node, two nodes: a few tens.
	if d := a.Current.Micros - many.Current.Micros; a.Current.BelowK || d == 0 || d > 150_000_000 || d < -150_000_000 {
		t.Errorf("shared revenue %d, exact %d: want noise of a few mean amounts", a.Current.Micros, many.Current.Micros)
	}
	other := many
	other.Goal = "Other"
	if c := shared.Revenue(other, shared.Goal("Other", big, r2), r2); c.Current.Micros == a.Current.Micros {
		t.Errorf("two goals' revenue draw the same noise")
	}
}
