package goals

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of a site's declarations: every goal and funnel step is tried on
// every hit of the site.
const (
	MaxGoals      = 100
	MaxFunnels    = 20
	MinSteps      = 2
	MaxSteps      = 8
	MaxProps      = 30 // allow-listed property names
	MaxNameLen    = 120
	MaxPropLen    = 64
	MaxPatternLen = 200
)

// PageviewName is the event name of a page view, which no event goal or
// step may name (a page goal or step names a path instead); EngagementName
// is Plausible's engagement report, never a conversion.
const (
	PageviewName   = "pageview"
	EngagementName = "engagement"
)

// Goal is one conversion: an event goal (Event set) or a page goal (Path
// set), never both.
type Goal struct {
	Name  string // shown and stored; unique within the site
	Event string // an event goal: the custom event's name
	Path  string // a page goal: a Pattern
	page  Pattern
}

// NewGoal validates and compiles a goal; an empty name is made from what
// it matches ("Signup", "Visit /thank-you*"), as Plausible names them.
func NewGoal(name, event, path string) (Goal, error) {
	name, event, path = strings.TrimSpace(name), strings.TrimSpace(event), strings.TrimSpace(path)
	g := Goal{Name: name, Event: event, Path: path}
	switch {
	case event != "" && path != "":
		return Goal{}, errors.New("a goal is an event or a path, not both")
	case event == "" && path == "":
		return Goal{}, errors.New("a goal needs an event or a path")
	case event != "":
		if err := checkName(event); err != nil {
			return Goal{}, fmt.Errorf("event %q: %w", event, err)
		}
		if event == PageviewName || event == EngagementName {
			return Goal{}, fmt.Errorf("event %q is not a custom event: use a path for page goals", event)
		}
		if g.Name == "" {
			g.Name = event
		}
	default:
		p, err := ParsePattern(path)
		if err != nil {
			return Goal{}, fmt.Errorf("path %q: %w", path, err)
		}
		g.page = p
		if g.Name == "" {
			g.Name = "Visit " + path
		}
	}
	if err := checkName(g.Name); err != nil {
		return Goal{}, fmt.Errorf("name %q: %w", g.Name, err)
	}
	return g, nil
}

// checkName accepts what an event name may be (ingest.cleanName): 1 to
// MaxNameLen bytes of UTF-8 without control characters. Tabs are control
// characters, so names can be joined with tabs in counter values.
func checkName(s string) error {
	if s == "" || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("must be 1 to %d bytes of UTF-8", MaxNameLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("must not hold control characters")
		}
	}
	return nil
}

// Matches reports whether a hit converts: a custom event named g.Event, or
// a page view of a path g's pattern matches.
func (g *Goal) Matches(h Hit) bool {
	if g.Event != "" {
		return h.Event == g.Event
	}
	return h.Event == PageviewName && g.page.Match(h.Path)
}

// IsPage reports whether g is a page goal.
func (g *Goal) IsPage() bool { return g.Path != "" }

// Hit is what a goal is matched against: the event's name (PageviewName
// for a page view) and the page's counted path.
type Hit struct {
	Event string
	Path  string
}

// Funnel is 2 to 8 ordered steps; a visitor reaches step k when the hits
// of their day matched steps 1 to k in that order (collector/journey).
type Funnel struct {
	Name  string
	Steps []Goal // each an event or a page; Name is the step's label
}

// Set is what one site counts as conversions. The zero Set (or nil)
// counts nothing and keeps no property.
type Set struct {
	Goals   []Goal
	Funnels []Funnel
	props   []string
}

// Keeps reports whether the site keeps the custom property name.
func (s *Set) Keeps(prop string) bool {
	if s == nil {
		return false
	}
	for _, p := range s.props {
		if p == prop {
			return true
		}
	}
	return false
}

// Props are the allow-listed property names.
func (s *Set) Props() []string {
	if s == nil {
		return nil
	}
	return s.props
}

// Empty reports whether the set counts nothing beyond page views and
// events: the ingest path skips all conversion work for it.
func (s *Set) Empty() bool {
	return s == nil || len(s.Goals) == 0 && len(s.Funnels) == 0 && len(s.props) == 0
}

// Goal finds a goal by name.
func (s *Set) Goal(name string) (Goal, bool) {
	if s != nil {
		for _, g := range s.Goals {
			if g.Name == name {
				return g, true
			}
		}
	}
	return Goal{}, false
}

// Match appends to dst the indexes in s.Goals of the goals h converts, and
// returns it; with a caller's array of MaxGoals it does not allocate.
func (s *Set) Match(h Hit, dst []int) []int {
	if s == nil {
		return dst
	}
	for i := range s.Goals {
		if s.Goals[i].Matches(h) {
			dst = append(dst, i)
		}
	}
	return dst
}
