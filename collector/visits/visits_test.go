package visits

import (
	"testing"

	"tally/counter"
)

func TestParseFlags(t *testing.T) {
	f := func(in int64, want Flags) {
		t.Helper()
		if got := ParseFlags(in); got != want {
			t.Errorf("ParseFlags(%d) = %b, want %b", in, got, want)
		}
	}
	f(0, 0)
	f(1, Tracked)
	f(int64(Tracked|Reload), Tracked|Reload)
	f(int64(Reload), 0) // without Tracked, nothing
	f(int64(allFlags), allFlags)
	f(int64(allFlags)+1, 0) // a bit nobody sends
	f(-1, 0)
}

func TestArrive(t *testing.T) {
	f := func(h Hit, internal bool, want Arrival) {
		t.Helper()
		if got := Arrive(h, internal); got != want {
			t.Errorf("Arrive(%+v, %v) = %d, want %d", h, internal, got, want)
		}
	}
	f(Hit{}, false, Entry)
	f(Hit{}, true, Step)
	f(Hit{NoReferrer: true}, false, Unknown)
	f(Hit{NoReferrer: true, Flags: Tracked}, true, Unknown)
	f(Hit{Flags: Tracked}, false, Entry)
	f(Hit{Flags: Tracked | Reload}, false, Return)
	f(Hit{Flags: Tracked | BackForward}, true, Return)
	f(Hit{Flags: Reload}, false, Entry) // not our tracker: the flag means nothing
}

func TestPageView(t *testing.T) {
	f := func(h Hit, a Arrival, want View) {
		t.Helper()
		if got := PageView(h, a); got != want {
			t.Errorf("PageView(%+v, %d) =\n%+v, want\n%+v", h, a, got, want)
		}
	}
	script := counter.WebCounts{EngagedViews: 1}
	// A pixel without r=: nothing.
	f(Hit{NoReferrer: true}, Unknown, View{})
	// Plausible's tracker entering: a visit, an assumed exit, no bounce.
	f(Hit{Script: true}, Entry, View{Every: counter.WebCounts{Visits: 1},
		Path: counter.WebCounts{Exits: 1, EngagedViews: 1}, Total: script})
	// Our tracker entering: the bounce is assumed too.
	f(Hit{Script: true, Flags: Tracked}, Entry, View{Every: counter.WebCounts{Visits: 1, TrackedVisits: 1, Bounces: 1},
		Path: counter.WebCounts{Exits: 1, EngagedViews: 1}, Total: script})
	// A step takes back the referrer's exit and assumes its own.
	f(Hit{Script: true, Flags: Tracked}, Step, View{Path: counter.WebCounts{Exits: 1, EngagedViews: 1}, Total: script, TakeBack: true})
	// A pixel with r=: a step, no engagement.
	f(Hit{}, Step, View{Path: counter.WebCounts{Exits: 1}, TakeBack: true})
	// A reload: its own assumed exit and its predecessor's cancel.
	f(Hit{Script: true, Flags: Tracked | Reload}, Return, View{Path: script, Total: script})
	// Back or forward: this page is the current one (exit assumed); the
	// page left says NotExit itself.
	f(Hit{Script: true, Flags: Tracked | BackForward}, Return, View{Path: counter.WebCounts{Exits: 1, EngagedViews: 1}, Total: script})
}

func TestEngage(t *testing.T) {
	f := func(r Report, entry bool, want Engaged) {
		t.Helper()
		if got := Engage(r, entry); got != want {
			t.Errorf("Engage(%+v, %v) =\n%+v, want\n%+v", r, entry, got, want)
		}
	}
	both := func(c counter.WebCounts) Engaged { return Engaged{Path: c, Total: c} }
	// Plausible's reports: each adds its depth and counts one.
	f(Report{EngagedMS: 4000, Scroll: 40}, true, both(counter.WebCounts{EngagedMS: 4000, ScrollSum: 40, ScrollViews: 1}))
	f(Report{EngagedMS: 4000, Scroll: NoScroll}, true, both(counter.WebCounts{EngagedMS: 4000}))
	// Flags without Tracked are nobody's.
	f(Report{EngagedMS: 1, Scroll: 10, Flags: NotBounce | NotExit}, true, both(counter.WebCounts{EngagedMS: 1, ScrollSum: 10, ScrollViews: 1}))
	// Ours: the first report counts the page view and its depth, later ones
	// add only what was scrolled since, so a page view sums to its deepest.
	f(Report{EngagedMS: 3000, Scroll: 30, Flags: Tracked | First}, false, both(counter.WebCounts{EngagedMS: 3000, ScrollSum: 30, ScrollViews: 1}))
	f(Report{EngagedMS: 2000, Scroll: 80, PrevScroll: 30, Flags: Tracked}, false, both(counter.WebCounts{EngagedMS: 2000, ScrollSum: 50}))
	f(Report{EngagedMS: 2000, Scroll: 20, PrevScroll: 30, Flags: Tracked}, false, both(counter.WebCounts{EngagedMS: 2000}))
	f(Report{Scroll: 50, PrevScroll: 900, Flags: Tracked}, false, both(counter.WebCounts{}))
	// NotBounce applies only to a report whose referrer starts a visit.
	e := Engage(Report{EngagedMS: 5, Scroll: NoScroll, Flags: Tracked | NotBounce}, true)
	if !e.UnBounce {
		t.Error("NotBounce on an entry page did not take the bounce back")
	}
	if Engage(Report{EngagedMS: 5, Scroll: NoScroll, Flags: Tracked | NotBounce}, false).UnBounce {
		t.Error("NotBounce on a page the collector does not take for an entry took a bounce back")
	}
	// NotExit and Restored move the page's exit, never the total's.
	e = Engage(Report{EngagedMS: 5, Scroll: NoScroll, Flags: Tracked | NotExit}, false)
	if e.Path.Exits != -1 || e.Total.Exits != 0 {
		t.Errorf("NotExit: %+v", e)
	}
	e = Engage(Report{EngagedMS: 5, Scroll: NoScroll, Flags: Tracked | Restored}, false)
	if e.Path.Exits != 1 || e.Total.Exits != 0 {
		t.Errorf("Restored: %+v", e)
	}
}

// TestPlausibleValidation follows Plausible's request.ex: sd is clamped to
// 100 and refused below 0, e refused at 30 days, and a report with neither
// (e = 0 counting as none) is refused.
func TestPlausibleValidation(t *testing.T) {
	for _, c := range []struct {
		v    int64
		ok   bool
		want int
	}{{0, true, 0}, {55, true, 55}, {100, true, 100}, {101, true, 100}, {1 << 40, true, 100}, {-1, true, NoScroll}, {7, false, NoScroll}} {
		if got := ParseScroll(c.v, c.ok); got != c.want {
			t.Errorf("ParseScroll(%d, %v) = %d, want %d", c.v, c.ok, got, c.want)
		}
	}
	for _, c := range []struct {
		v    int64
		ok   bool
		want int64
	}{{0, true, 0}, {1500, true, 1500}, {MaxEngagedMS - 1, true, MaxEngagedMS - 1}, {MaxEngagedMS, true, 0}, {-5, true, 0}, {9, false, 0}} {
		if got := ParseEngagedMS(c.v, c.ok); got != c.want {
			t.Errorf("ParseEngagedMS(%d, %v) = %d, want %d", c.v, c.ok, got, c.want)
		}
	}
	if !(Report{Scroll: NoScroll}).Empty() || (Report{Scroll: 0}).Empty() || (Report{Scroll: NoScroll, EngagedMS: 1}).Empty() {
		t.Error("Empty does not follow Plausible's rule")
	}
}

// TestVisitSumsOut plays whole visits through the rules and checks the
// sums the dashboards read: every visit ends with one exit on its last
// page and, for our tracker, one bounce only when it saw one page.
func TestVisitSumsOut(t *testing.T) {
	rows := map[string]*counter.WebCounts{}
	add := func(path string, c counter.WebCounts) {
		if rows[path] == nil {
			rows[path] = &counter.WebCounts{}
		}
		rows[path].Add(c)
	}
	ours := Hit{Script: true, Flags: Tracked}
	view := func(h Hit, path, ref string) {
		internal := ref != "" && ref[0] == '/'
		v := PageView(h, Arrive(h, internal))
		add(path, v.Every)
		add(path, v.Path)
		add("total", v.Every)
		add("total", v.Total)
		if v.TakeBack {
			add(ref, counter.WebCounts{Exits: -1})
		}
	}
	report := func(path string, entry bool, f Flags) {
		e := Engage(Report{EngagedMS: 1000, Scroll: 50, Flags: Tracked | First | f}, entry)
		add(path, e.Path)
		add("total", e.Total)
		if e.UnBounce {
			add(path, counter.WebCounts{Bounces: -1})
			add("total", counter.WebCounts{Bounces: -1})
		}
	}
	// Visit 1: /a, gone. A bounce.
	view(ours, "/a", "https://search.example/")
	report("/a", true, 0)
	// Visit 2: /a -> /b -> back to /a (back-forward cache) -> gone from /a.
	view(ours, "/a", "")
	report("/a", true, NotBounce)
	view(ours, "/b", "/a")
	report("/b", false, NotExit)
	report("/a", true, Restored)
	// Visit 3: /c -> reload /c -> /a.
	view(ours, "/c", "")
	report("/c", true, NotBounce)
	view(Hit{Script: true, Flags: Tracked | Reload}, "/c", "")
	report("/c", false, 0)
	view(ours, "/a", "/c")
	report("/a", false, 0)

	want := map[string]counter.WebCounts{
		"/a": {Visits: 2, TrackedVisits: 2, Bounces: 1, Exits: 3}, // each visit left from /a
		"/b": {Exits: 0},
		"/c": {Visits: 1, TrackedVisits: 1, Bounces: 0, Exits: 0},
	}
	for path, w := range want {
		got := *rows[path]
		if got.Visits != w.Visits || got.TrackedVisits != w.TrackedVisits || got.Bounces != w.Bounces || got.Exits != w.Exits {
			t.Errorf("%s: visits %d tracked %d bounces %d exits %d, want %+v", path, got.Visits, got.TrackedVisits, got.Bounces, got.Exits, w)
		}
	}
	tot := rows["total"]
	if tot.Visits != 3 || tot.Bounces != 1 || tot.Pageviews != 0 || tot.EngagedViews != 6 || tot.EngagedMS != 7000 {
		t.Errorf("total: %+v", *tot)
	}
}
