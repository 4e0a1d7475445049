package visits

import (
	"errors"

	"tally/counter"
)

// Flags are what our tracker says of a page, in the tf member of its
// events; other senders send none. Only the bits below mean anything, and
// only with Tracked set.
type Flags uint16

const (
	// Tracked marks every event of our tracker.
	Tracked Flags = 1 << iota
	// Reload (page view): the page was reloaded.
	Reload
	// BackForward (page view): the page was loaded again by going back or
	// forward (not shown from the back-forward cache, which sends no page
	// view).
	BackForward
	// First (engagement): the first report of this page view.
	First
	// NotBounce (engagement): this entry page was left for another page of
	// the site in the same tab.
	NotBounce
	// NotExit (engagement): the page was left by going back or forward to
	// another page of the site, which the referrer chain cannot see.
	NotExit
	// Restored (engagement): the page is shown again from the back-forward
	// cache, and is the visitor's current page once more.
	Restored

	allFlags = Tracked | Reload | BackForward | First | NotBounce | NotExit | Restored
)

// ParseFlags reads the tf member: unknown bits are dropped, and without
// Tracked nothing is kept.
func ParseFlags(v int64) Flags {
	f := Flags(v) & allFlags
	if v < 0 || v > int64(allFlags) || f&Tracked == 0 {
		return 0
	}
	return f
}

// Hit is what a page view's sender tells of its visit besides the
// referrer.
type Hit struct {
	Flags Flags
	// NoReferrer: the sender cannot know the page's referrer (the pixel
	// without r=), so the hit adds nothing to the visit counters.
	NoReferrer bool
	// Script: sent by a script that reports engagement for the page (ours,
	// or Plausible's, which sends its version as v).
	Script bool
}

// Arrival is what a page view's referrer says of its visit.
type Arrival uint8

const (
	// Unknown: the hit cannot say.
	Unknown Arrival = iota
	// Entry: an empty or external referrer, the first page of a visit.
	Entry
	// Step: the referrer is another page of the site.
	Step
	// Return: our tracker's reload or back/forward load: neither.
	Return
)

// Arrive classifies a page view; internal says whether its referrer is a
// page of one of the site's hostnames.
func Arrive(h Hit, internal bool) Arrival {
	switch {
	case h.NoReferrer:
		return Unknown
	case h.Flags&Tracked != 0 && h.Flags&(Reload|BackForward) != 0:
		return Return
	case internal:
		return Step
	}
	return Entry
}

// View is what a page view adds to the visit counters, besides its hit and
// page view.
type View struct {
	Every counter.WebCounts // to every dimension row of the page view
	Path  counter.WebCounts // to its path row, besides Every
	Total counter.WebCounts // to its total row, besides Every
	// TakeBack: the referrer's page was not an exit (Exits -1 on the path
	// row of the referrer's path).
	TakeBack bool
}

// PageView is what a page view that arrived as a adds.
func PageView(h Hit, a Arrival) View {
	var v View
	if h.Script {
		v.Path.EngagedViews, v.Total.EngagedViews = 1, 1
	}
	switch a {
	case Unknown:
		return v
	case Entry:
		v.Every.Visits = 1
		if h.Flags&Tracked != 0 {
			v.Every.TrackedVisits, v.Every.Bounces = 1, 1
		}
	case Step:
		v.TakeBack = true
	}
	// Assumed to be the visit's last page until a later hit says not. A
	// reload's predecessor was this same page: its assumed exit and this
	// one cancel.
	if !(a == Return && h.Flags&Reload != 0) {
		v.Path.Exits = 1
	}
	return v
}

// NoScroll is Report.Scroll when the report has no valid scroll depth.
const NoScroll = -1

// Report is one engagement report, validated (ParseScroll, ParseEngagedMS).
type Report struct {
	EngagedMS int64 // e: engaged milliseconds since the page's last report
	Scroll    int   // sd: deepest scroll so far, 0-100, or NoScroll
	// PrevScroll is sp, our tracker's last reported depth for the page
	// view (0 before the first report).
	PrevScroll int
	Flags      Flags
}

// Engaged is what a report adds.
type Engaged struct {
	Path, Total counter.WebCounts // to the page's path row and the total row
	// UnBounce: Bounces -1 in every dimension row of the entry page view
	// the report names.
	UnBounce bool
}

// Engage is what report r adds; entry says whether the report's referrer
// starts a visit (Arrive gave Entry for the page view it reports on).
func Engage(r Report, entry bool) Engaged {
	var c counter.WebCounts
	c.EngagedMS = r.EngagedMS
	tracked := r.Flags&Tracked != 0
	if r.Scroll != NoScroll {
		if tracked {
			c.ScrollSum = int64(max(0, r.Scroll-min(max(r.PrevScroll, 0), 100)))
			if r.Flags&First != 0 {
				c.ScrollViews = 1
			}
		} else {
			c.ScrollSum, c.ScrollViews = int64(r.Scroll), 1
		}
	}
	e := Engaged{Path: c, Total: c}
	if tracked {
		if r.Flags&NotExit != 0 {
			e.Path.Exits--
		}
		if r.Flags&Restored != 0 {
			e.Path.Exits++
		}
		e.UnBounce = r.Flags&NotBounce != 0 && entry
	}
	return e
}

// MaxEngagedMS bounds e as Plausible does: older versions of its tracker
// sent huge values, dropped as missing.
const MaxEngagedMS = 30 * 24 * 3600 * 1000

// ErrEmptyEngagement is Plausible's refusal of a report with neither a
// valid sd nor a valid e.
var ErrEmptyEngagement = errors.New("engagement event requires a valid integer value for at least one of 'sd' or 'e' fields")

// ParseScroll validates sd as Plausible does: an integer (or a string of
// one) from 0 to 100, above 100 read as 100, anything else missing.
func ParseScroll(v int64, ok bool) int {
	switch {
	case !ok || v < 0:
		return NoScroll
	case v > 100:
		return 100
	}
	return int(v)
}

// ParseEngagedMS validates e as Plausible does: an integer (or a string of
// one) from 0 to under MaxEngagedMS; anything else is missing, read as 0.
func ParseEngagedMS(v int64, ok bool) int64 {
	if !ok || v < 0 || v >= MaxEngagedMS {
		return 0
	}
	return v
}

// Empty reports whether r says nothing, which Plausible refuses with
// ErrEmptyEngagement: no scroll depth, and no engaged time (0 counts as
// none, as there).
func (r Report) Empty() bool { return r.Scroll == NoScroll && r.EngagedMS == 0 }
