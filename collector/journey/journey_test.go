package journey

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"tally/counter"
	"tally/goals"
)

var noon = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func mustFunnels(t testing.TB, steps ...[]goals.FileGoal) []goals.Funnel {
	t.Helper()
	var ff []goals.FileFunnel
	for i, s := range steps {
		ff = append(ff, goals.FileFunnel{Name: fmt.Sprintf("f%d", i), Steps: s})
	}
	c, err := goals.Parse(nil, nil, ff)
	if err != nil {
		t.Fatal(err)
	}
	return c.Funnels
}

// signup: /pricing, then /signup, then the event Signup.
func signup(t testing.TB) []goals.Funnel {
	return mustFunnels(t, []goals.FileGoal{{Path: "/pricing"}, {Path: "/signup"}, {Event: "Signup"}})
}

func page(key uint64, path string) *Hit {
	return &Hit{Key: key, Goal: goals.Hit{Event: goals.PageviewName, Path: path}}
}

func entry(key uint64, source, campaign, path string) *Hit {
	h := page(key, path)
	h.Start, h.Source, h.Campaign, h.Entry = true, source, campaign, path
	return h
}

func event(key uint64, name string) *Hit {
	return &Hit{Key: key, Goal: goals.Hit{Event: name, Path: "/x"}}
}

func TestFunnelInOrderOncePerDay(t *testing.T) {
	j := New(func() time.Time { return noon })
	fs := signup(t)
	var r Result
	steps := func(h *Hit) uint8 {
		j.Record(noon, "a.com", -1, fs, h, &r)
		return r.Reached[0]
	}
	for i, c := range []struct {
		h    *Hit
		want uint8
	}{
		{page(7, "/signup"), 0},  // out of order: step 2 before 1
		{event(7, "Signup"), 0},  // step 3 before 1
		{page(7, "/pricing"), 1}, // step 1
		{page(7, "/pricing"), 0}, // again: once a day
		{event(7, "Signup"), 0},  // skips step 2
		{page(7, "/signup"), 2},
		{page(7, "/pricing"), 0},
		{page(7, "/signup"), 0},
		{event(7, "Signup"), 3},
		{event(7, "Signup"), 0},
		{page(8, "/signup"), 0}, // another visitor starts at 0
		{page(8, "/pricing"), 1},
	} {
		if got := steps(c.h); got != c.want {
			t.Fatalf("hit %d (%+v): reached %d, want %d", i, c.h.Goal, got, c.want)
		}
	}
}

func TestOneStepPerHit(t *testing.T) {
	// Two steps that the same page matches: one hit moves one step.
	fs := mustFunnels(t, []goals.FileGoal{{Path: "/a**"}, {Path: "/a/b"}})
	j := New(func() time.Time { return noon })
	var r Result
	j.Record(noon, "a.com", -1, fs, page(1, "/a/b"), &r)
	if r.Reached[0] != 1 {
		t.Fatalf("reached %d, want 1", r.Reached[0])
	}
	j.Record(noon, "a.com", -1, fs, page(1, "/a/b"), &r)
	if r.Reached[0] != 2 {
		t.Fatalf("reached %d, want 2", r.Reached[0])
	}
}

func TestManyFunnelsKeepTheirOwnSteps(t *testing.T) {
	// Twenty funnels of eight steps: the four-bit packing must keep each
	// funnel's step apart from its neighbour's.
	var all [][]goals.FileGoal
	for f := range goals.MaxFunnels {
		var st []goals.FileGoal
		for k := range goals.MaxSteps {
			st = append(st, goals.FileGoal{Path: fmt.Sprintf("/f%d/s%d", f, k+1)})
		}
		all = append(all, st)
	}
	fs := mustFunnels(t, all...)
	j := New(func() time.Time { return noon })
	var r Result
	// Funnel f is taken to step f%9 (0 to 8).
	for f := range goals.MaxFunnels {
		for k := 1; k <= f%9; k++ {
			j.Record(noon, "a.com", -1, fs, page(3, fmt.Sprintf("/f%d/s%d", f, k)), &r)
			if r.Reached[f] != uint8(k) {
				t.Fatalf("funnel %d: reached %d, want %d", f, r.Reached[f], k)
			}
		}
	}
	for f := range goals.MaxFunnels {
		next := f%9 + 1
		if next > goals.MaxSteps {
			continue
		}
		j.Record(noon, "a.com", -1, fs, page(3, fmt.Sprintf("/f%d/s%d", f, next)), &r)
		if r.Reached[f] != uint8(next) {
			t.Fatalf("funnel %d: reached %d, want %d", f, r.Reached[f], next)
		}
	}
}

func TestAttributionIsTheDaysLastVisit(t *testing.T) {
	j := New(func() time.Time { return noon })
	var r Result
	j.Record(noon, "a.com", -1, nil, event(5, "Signup"), &r)
	if r.Source != Unknown || r.Campaign != Unknown || r.Entry != Unknown {
		t.Fatalf("no visit seen: %+v, want (unknown)", r)
	}
	if j.Len() != 0 {
		t.Fatalf("a hit that starts nothing made state: %d visitors", j.Len())
	}
	j.Record(noon, "a.com", -1, nil, entry(5, "Google", "", "/blog/a"), &r)
	j.Record(noon, "a.com", -1, nil, page(5, "/pricing"), &r)
	if r.Source != "Google" || r.Campaign != "" || r.Entry != "/blog/a" {
		t.Fatalf("got %q %q %q", r.Source, r.Campaign, r.Entry)
	}
	j.Record(noon, "a.com", -1, nil, entry(5, "Newsletter", "spring", "/offer"), &r)
	j.Record(noon, "a.com", -1, nil, event(5, "Signup"), &r)
	if r.Source != "Newsletter" || r.Campaign != "spring" || r.Entry != "/offer" {
		t.Fatalf("last touch: got %q %q %q", r.Source, r.Campaign, r.Entry)
	}
	// Another site's visitor with the same key (a collision) reads its own
	// site's values.
	j.Record(noon, "b.com", -1, nil, entry(6, "Bing", "x", "/"), &r)
	if r.Source != "Bing" {
		t.Fatalf("got %q", r.Source)
	}
	if j.Len() != 2 || j.SiteLen("a.com") != 1 || j.SiteLen("b.com") != 1 {
		t.Fatalf("Len %d, a.com %d, b.com %d", j.Len(), j.SiteLen("a.com"), j.SiteLen("b.com"))
	}
	j.Record(noon, "a.com", -1, nil, &Hit{Key: 0, Start: true, Source: "x"}, &r)
	if j.Len() != 2 || r.Source != Unknown {
		t.Fatal("the zero key (no visitor) must record nothing")
	}
}

func TestMidnightForgets(t *testing.T) {
	clk := noon
	j := New(func() time.Time { return clk })
	fs := signup(t)
	var r Result
	j.Record(noon, "a.com", -1, fs, entry(9, "Google", "c", "/pricing"), &r)
	if r.Reached[0] != 1 || j.Len() != 1 {
		t.Fatalf("reached %d, %d visitors", r.Reached[0], j.Len())
	}
	next := noon.Add(12 * time.Hour) // 00:00 UTC the next day
	j.Record(next, "a.com", -1, fs, event(9, "Signup"), &r)
	if r.Source != Unknown || r.Reached[0] != 0 {
		t.Fatalf("the old day's visit or steps were carried: %+v", r)
	}
	if j.Len() != 0 || j.SiteLen("a.com") != 0 {
		t.Fatalf("the new day holds %d visitors", j.Len())
	}
	// A hit of the old day still on its way records nothing.
	j.Record(noon, "a.com", -1, fs, entry(10, "Google", "", "/pricing"), &r)
	if r.Reached[0] != 0 || r.Source != Unknown || j.Len() != 0 {
		t.Fatalf("a hit of yesterday made state today: %+v, %d", r, j.Len())
	}
	// The new day starts from step 0.
	j.Record(next, "a.com", -1, fs, page(9, "/pricing"), &r)
	if r.Reached[0] != 1 {
		t.Fatalf("reached %d, want 1", r.Reached[0])
	}
	// The gauges rotate too: a day without hits reads 0.
	clk = next.Add(24 * time.Hour)
	if j.Len() != 0 || j.Bytes() != 0 {
		t.Fatalf("a day without hits holds %d visitors, %d bytes", j.Len(), j.Bytes())
	}
}

func TestSiteShare(t *testing.T) {
	j := New(func() time.Time { return noon })
	fs := signup(t)
	var r Result
	for k := uint64(1); k <= 3; k++ {
		j.Record(noon, "full.com", 3, fs, entry(k, "Google", "", "/"), &r)
		if r.Shed {
			t.Fatalf("visitor %d shed under the share", k)
		}
	}
	j.Record(noon, "full.com", 3, fs, page(4, "/pricing"), &r)
	if !r.Shed || r.Reached[0] != 0 || r.Source != Unknown || j.Shed() != 1 {
		t.Fatalf("over the share: %+v, shed %d", r, j.Shed())
	}
	// Known visitors keep moving and being attributed.
	j.Record(noon, "full.com", 3, fs, page(2, "/pricing"), &r)
	if r.Shed || r.Reached[0] != 1 || r.Source != "Google" {
		t.Fatalf("a known visitor over the share: %+v", r)
	}
	// Another site has its own share.
	j.Record(noon, "other.com", 3, fs, page(4, "/pricing"), &r)
	if r.Shed || r.Reached[0] != 1 {
		t.Fatalf("another site shed: %+v", r)
	}
	if j.SiteLen("full.com") != 3 || j.SiteLen("other.com") != 1 {
		t.Fatalf("full.com %d, other.com %d", j.SiteLen("full.com"), j.SiteLen("other.com"))
	}
}

func TestInternedValuesBounded(t *testing.T) {
	// A visitor starting visit after visit with new values cannot grow the
	// site's values past three per visitor of the share.
	j := New(func() time.Time { return noon })
	var r Result
	for i := range 20 {
		j.Record(noon, "a.com", 2, nil, entry(1, fmt.Sprintf("s%d", i), fmt.Sprintf("c%d", i), fmt.Sprintf("/p%d", i)), &r)
	}
	if r.Source != counter.Overflow || r.Entry != counter.Overflow {
		t.Fatalf("past the bound: %+v, want %q", r, counter.Overflow)
	}
	d := j.current()
	s := (*d.sites.Load())["a.com"]
	if n := len(s.values) - 1; n != 6 {
		t.Fatalf("%d values interned, want 6 (3 x share 2)", n)
	}
	// Known values are still found.
	j.Record(noon, "a.com", 2, nil, entry(1, "s0", "c0", "/p0"), &r)
	if r.Source != "s0" || r.Campaign != "c0" || r.Entry != "/p0" {
		t.Fatalf("got %+v", r)
	}
}

func TestConcurrentVisitors(t *testing.T) {
	j := New(func() time.Time { return noon })
	fs := signup(t)
	const workers, visitors = 8, 500
	var wg sync.WaitGroup
	reached := make([][4]int, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r Result
			// Every worker drives the same visitors through the funnel, so
			// that they race on each visitor's state.
			for v := uint64(1); v <= visitors; v++ {
				for _, h := range []*Hit{entry(v, "Google", "", "/"), page(v, "/pricing"), page(v, "/signup"), event(v, "Signup")} {
					j.Record(noon, "a.com", -1, fs, h, &r)
					reached[w][r.Reached[0]]++
				}
			}
		}()
	}
	wg.Wait()
	for k := 1; k <= 3; k++ {
		n := 0
		for w := range workers {
			n += reached[w][k]
		}
		if n != visitors {
			t.Errorf("step %d reached %d times, want once per visitor (%d)", k, n, visitors)
		}
	}
	if j.Len() != visitors {
		t.Errorf("%d visitors, want %d", j.Len(), visitors)
	}
}

// TestBytesPerVisitor measures the heap of the state, for doc.go and
// BytesPerVisitor.
func TestBytesPerVisitor(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 15 MB")
	}
	fs := signup(t)
	const n = 200_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	j := New(func() time.Time { return noon })
	var r Result
	for k := uint64(1); k <= n; k++ {
		j.Record(noon, "a.com", -1, fs, entry(k*0x9e3779b97f4a7c15, "Google", "", "/"), &r)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f bytes a visitor at %d visitors (estimate %d)", per, n, BytesPerVisitor)
	if per > 100 {
		t.Fatalf("%.1f bytes a visitor, want at most 100", per)
	}
	runtime.KeepAlive(j)
}

func BenchmarkRecord(b *testing.B) {
	fs := signup(b)
	j := New(func() time.Time { return noon })
	var r Result
	hits := make([]*Hit, 0, 1024)
	for k := uint64(1); k <= 256; k++ {
		key := k * 0x9e3779b97f4a7c15
		hits = append(hits, entry(key, "Google", "spring", "/"), page(key, "/pricing"), page(key, "/docs"), event(key, "Signup"))
	}
	for _, h := range hits { // every visitor and value known: the steady state
		j.Record(noon, "a.com", -1, fs, h, &r)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j.Record(noon, "a.com", -1, fs, hits[i%len(hits)], &r)
		i++
	}
}
