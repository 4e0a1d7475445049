package journey

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tally/counter"
	"tally/goals"
)

// Unknown is the attribution of a conversion whose visitor has no visit
// recorded today: the visit started before a restart or yesterday, its
// first page view knew no referrer, or the visitor got no state (over the
// site's share).
const Unknown = "(unknown)"

// shards splits the day's visitors so that concurrent hits rarely wait on
// the same lock (uniques.Visitors does the same).
const shards = 64

// Journeys is the day's per-visitor state: the current visit's source,
// campaign and entry page, and each funnel's highest step. Safe for
// concurrent use.
type Journeys struct {
	now      func() time.Time
	rotating sync.Mutex // one rotation at a time
	today    atomic.Pointer[day]
	shed     atomic.Int64 // new visitors refused over a site's share, since the start
}

// day is one UTC day's state; a new day starts empty.
type day struct {
	day      int64
	visitors atomic.Int64

	// sites is copied on write (a site's first visitor of the day) and
	// read with one atomic load, as in uniques.
	sitesMu sync.Mutex
	sites   atomic.Pointer[map[string]*site]

	shards [shards]shard
}

type shard struct {
	mu   sync.Mutex
	m    map[uint64]state
	dead bool     // dropped by a rotation: refuses new state
	_    [47]byte // neighbouring shards' locks on separate cache lines
}

// state is one visitor's day: 24 bytes, no pointer (the garbage collector
// never scans the maps' values).
type state struct {
	// The current visit's values: 0 none, else 1 + an index in the site's
	// values.
	source, campaign, entry uint32
	// steps holds each funnel's highest step reached (0 to 8), four bits
	// a funnel.
	steps [(goals.MaxFunnels + 1) / 2]byte
}

func (s *state) step(f int) uint8 { return s.steps[f/2] >> (4 * (f % 2)) & 0xf }

func (s *state) setStep(f int, k uint8) {
	shift := 4 * (f % 2)
	s.steps[f/2] = s.steps[f/2]&^(0xf<<shift) | k<<shift
}

// site is one site's visitors count and interned values of the day.
type site struct {
	n  atomic.Int64
	mu sync.RWMutex
	// ids maps a value to 1 + its index in values. values[0] is
	// counter.Overflow: the value of visits started once the site's
	// table is full.
	ids    map[string]uint32
	values []string
	bytes  atomic.Int64 // of values' strings
}

// New starts an empty day. now is the clock of Len, SiteLen and Bytes
// (time.Now when nil); Record is given each hit's time.
func New(now func() time.Time) *Journeys {
	if now == nil {
		now = time.Now
	}
	j := &Journeys{now: now}
	j.today.Store(newDay(dayOf(now())))
	return j
}

// current is today's state, rotated first at midnight UTC.
func (j *Journeys) current() *day { return j.dayAt(dayOf(j.now())) }

func newDay(d int64) *day {
	out := &day{day: d}
	for i := range out.shards {
		out.shards[i].m = map[uint64]state{}
	}
	return out
}

func dayOf(t time.Time) int64 { return t.Unix() / 86400 }

// dayAt returns the state of day, rotating to it when it is newer than
// today's, or today's when day is older: the caller compares d.day. A
// clock that steps back never brings back an earlier day.
func (j *Journeys) dayAt(d int64) *day {
	cur := j.today.Load()
	if d <= cur.day {
		return cur
	}
	j.rotating.Lock()
	defer j.rotating.Unlock()
	cur = j.today.Load()
	if d <= cur.day {
		return cur
	}
	j.today.Store(newDay(d))
	cur.drop()
	return j.today.Load()
}

// drop forgets the day: every visitor's state and every interned value.
// A hit of that day still on its way finds its shard dead and records
// nothing.
func (d *day) drop() {
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.m = nil
		sh.dead = true
		sh.mu.Unlock()
	}
	d.visitors.Store(0)
	d.sitesMu.Lock()
	d.sites.Store(nil)
	d.sitesMu.Unlock()
}

// site returns the site's state of the day, made on first use.
func (d *day) site(name string) *site {
	if m := d.sites.Load(); m != nil {
		if s, ok := (*m)[name]; ok {
			return s
		}
	}
	d.sitesMu.Lock()
	defer d.sitesMu.Unlock()
	old := d.sites.Load()
	next := make(map[string]*site, 1)
	if old != nil {
		if s, ok := (*old)[name]; ok {
			return s
		}
		maps.Copy(next, *old)
	}
	s := &site{ids: map[string]uint32{counter.Overflow: 1}, values: []string{counter.Overflow}}
	next[strings.Clone(name)] = s
	d.sites.Store(&next)
	return s
}

// intern returns the id of v, adding it while the site holds fewer than
// limit values (a negative limit: no limit); over it, the id of
// counter.Overflow. Only a new value allocates.
func (s *site) intern(v string, limit int) uint32 {
	s.mu.RLock()
	id, ok := s.ids[v]
	s.mu.RUnlock()
	if ok {
		return id
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.ids[v]; ok {
		return id
	}
	if limit >= 0 && len(s.values) > limit {
		return 1
	}
	v = strings.Clone(v)
	s.values = append(s.values, v)
	id = uint32(len(s.values))
	s.ids[v] = id
	s.bytes.Add(int64(len(v)))
	return id
}

// value is the string of id (not 0).
func (s *site) value(id uint32) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	// A visitor key is the site's HMAC: two sites' visitors share one only
	// by a 64-bit collision, which must not read past this site's table.
	if id == 0 || int(id) > len(s.values) {
		return Unknown
	}
	return s.values[id-1]
}

// Hit is what Record reads of one counted hit of a visitor.
type Hit struct {
	// Key is the visitor's key of the day (uniques.Visitor.Key); 0 records
	// nothing.
	Key uint64
	// Start: a page view that starts a visit (collector/visits' Entry);
	// Source, Campaign and Entry are then the visit's.
	Start                   bool
	Source, Campaign, Entry string
	// Goal is the hit as goals match it.
	Goal goals.Hit
}

// Result is what Record found.
type Result struct {
	// Shed: the visitor had no state and the site's share was full, so it
	// got none: attribution is Unknown and no funnel moved.
	Shed bool
	// Source, Campaign and Entry are the visitor's current visit of the
	// day, this hit's included; Unknown each when no visit is known.
	Source, Campaign, Entry string
	// Reached[f] is the step of funnel f this hit reached (1 to 8), 0 when
	// it reached none: each step is reached once a day at most.
	Reached [goals.MaxFunnels]uint8
}

// Record applies a hit to its visitor's state of the day of now and
// returns the visitor's attribution and the funnel steps the hit reached.
// A visit start replaces the visit (last touch within the day); a funnel
// moves one step when the hit matches the step after the highest one
// reached, so hits out of order do not advance it and a step counts once.
// funnels are the site's (goals.Set.Funnels); a funnel's state is kept by
// its position, so the list must only change at a restart.
//
// A visitor gets state at its first hit that starts a visit or reaches a
// first step, while its site holds fewer than limit visitors today (a
// negative limit: no limit; concurrent hits may take a site a few past
// it). The site's interned values are held to 3*limit. In the steady
// state (a known visitor, known values) Record does not allocate.
func (j *Journeys) Record(now time.Time, siteName string, limit int, funnels []goals.Funnel, h *Hit, r *Result) {
	*r = Result{Source: Unknown, Campaign: Unknown, Entry: Unknown}
	if h.Key == 0 {
		return
	}
	today := dayOf(now)
	d := j.dayAt(today)
	if d.day != today {
		return // the day ended while the hit was on its way
	}
	s := d.site(siteName)
	var visit [3]uint32
	if h.Start {
		vlimit := -1
		if limit >= 0 {
			vlimit = 3 * limit
		}
		visit = [3]uint32{s.intern(h.Source, vlimit), s.intern(h.Campaign, vlimit), s.intern(h.Entry, vlimit)}
	}
	if len(funnels) > goals.MaxFunnels {
		funnels = funnels[:goals.MaxFunnels]
	}

	sh := &d.shards[h.Key%shards]
	sh.mu.Lock()
	if sh.dead {
		sh.mu.Unlock()
		return
	}
	st, known := sh.m[h.Key]
	moved := false
	for f := range funnels {
		k := st.step(f)
		steps := funnels[f].Steps
		if int(k) < len(steps) && int(k) < goals.MaxSteps && steps[k].Matches(h.Goal) {
			st.setStep(f, k+1)
			r.Reached[f] = k + 1
			moved = true
		}
	}
	if !known && !h.Start && !moved {
		sh.mu.Unlock()
		return // nothing to remember: no state is made for it
	}
	if !known {
		if limit >= 0 && s.n.Load() >= int64(limit) {
			sh.mu.Unlock()
			r.Reached = [goals.MaxFunnels]uint8{}
			r.Shed = true
			j.shed.Add(1)
			return
		}
		s.n.Add(1)
		d.visitors.Add(1)
	}
	if h.Start {
		st.source, st.campaign, st.entry = visit[0], visit[1], visit[2]
	}
	sh.m[h.Key] = st
	sh.mu.Unlock()

	if st.source != 0 {
		r.Source, r.Campaign, r.Entry = s.value(st.source), s.value(st.campaign), s.value(st.entry)
	}
}

// Len is the number of visitors with state today.
func (j *Journeys) Len() int { return int(j.current().visitors.Load()) }

// SiteLen is the number of the site's visitors with state today.
func (j *Journeys) SiteLen(site string) int {
	if m := j.current().sites.Load(); m != nil {
		if s, ok := (*m)[site]; ok {
			return int(s.n.Load())
		}
	}
	return 0
}

// Shed is the number of new visitors refused state over their site's
// share since the start (their conversions count as Unknown).
func (j *Journeys) Shed() int64 { return j.shed.Load() }

// BytesPerVisitor is the memory of one visitor's state in the maps, the
// middle of what was measured (52 to 84 bytes between the maps' growths,
// doc.go): 8 bytes of key, 24 of state, and the maps' slack.
const BytesPerVisitor = 70

// Bytes estimates the day's memory: Len times BytesPerVisitor, plus the
// interned values' bytes and their map entries (about 40 bytes each).
func (j *Journeys) Bytes() int {
	d := j.current()
	n := d.visitors.Load() * BytesPerVisitor
	if m := d.sites.Load(); m != nil {
		for _, s := range *m {
			s.mu.RLock()
			n += s.bytes.Load() + int64(len(s.values))*40
			s.mu.RUnlock()
		}
	}
	return int(n)
}
