package uniques

import (
	"crypto/rand"
	"encoding/binary"
	"maps"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Visitor is a visitor's key for one day. The zero Visitor is "no visitor":
// FirstToday always answers false for it.
type Visitor struct {
	id   uint64
	day  int64
	site *siteCount // the visitor's site's pairs today
}

// Key is the visitor's key of the day, for state kept per visitor for the
// day (collector/journey); 0 for no visitor. It is as secret as the day's
// salt: it must never leave the process.
func (v Visitor) Key() uint64 { return v.id }

// siteCount is one site's pairs of the day, on a cache line of its own:
// every new pair of the site adds to it.
type siteCount struct {
	n atomic.Int64
	_ [56]byte
}

// shards splits the day's pairs so that concurrent hits rarely wait on the
// same lock, and so that growing a table copies 1/64 of the memory at a
// time instead of all of it.
const shards = 64

// Visitors is the day's memory of (visitor, dimension, value) pairs. Safe for
// concurrent use.
type Visitors struct {
	now func() time.Time

	rotating sync.Mutex // one rotation at a time
	today    atomic.Pointer[visitorDay]
}

// visitorDay is everything derived from one day's salt.
type visitorDay struct {
	day int64

	keyMu sync.RWMutex // destroy (write) against MACs in progress (read)
	key   macKey       // the salt, as HMAC states; destroyed at rotation
	// seed keys the pair hash, replaced with the day. A number rather than
	// a maphash.Seed, so that the day's pairs can cross a graceful restart
	// (handover.go).
	seed uint64

	pairs atomic.Int64
	bytes atomic.Int64

	// sites counts each site's pairs, so that each site can be held to
	// its share of the memory. The map is copied on write (a site's first
	// visitor of the day) and read with one atomic load; its keys are the
	// site names given to Visitor, a short list.
	sitesMu sync.Mutex
	sites   atomic.Pointer[map[string]*siteCount]

	shards [shards]visitorShard
}

type visitorShard struct {
	mu   sync.Mutex
	set  set64
	dead bool     // wiped by a rotation: refuses inserts
	_    [23]byte // 64 bytes: neighbouring shards' locks on separate cache lines
}

// NewVisitors starts the day's memory. now is the clock (time.Now when nil).
func NewVisitors(now func() time.Time) *Visitors {
	if now == nil {
		now = time.Now
	}
	v := &Visitors{now: now}
	v.today.Store(newVisitorDay(dayOf(now()), nil))
	return v
}

func dayOf(t time.Time) int64 { return t.Unix() / 86400 }

// newVisitorDay draws the day's salt (or uses salt, for tests), keeps only
// the HMAC states derived from it and overwrites it.
func newVisitorDay(day int64, salt []byte) *visitorDay {
	var s [32]byte
	if salt == nil {
		salt = s[:]
		if _, err := rand.Read(salt); err != nil {
			// crypto/rand.Read never returns an error on supported platforms
			// (Go 1.24+ crashes the program instead), so this is unreachable.
			panic("uniques: cannot read random salt: " + err.Error())
		}
	}
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		panic("uniques: cannot read random seed: " + err.Error())
	}
	d := &visitorDay{day: day, key: newMACKey(salt), seed: binary.LittleEndian.Uint64(seed[:])}
	clear(s[:])
	return d
}

// current returns the day's memory, rotating it first at midnight UTC. A
// clock that steps back never brings back an earlier day.
func (v *Visitors) current() *visitorDay { return v.dayAt(dayOf(v.now())) }

// dayAt returns the memory of day (rotating to it when it is newer than
// today's), or today's when day is older: a caller must compare d.day.
func (v *Visitors) dayAt(day int64) *visitorDay {
	d := v.today.Load()
	if day <= d.day {
		return d
	}
	v.rotating.Lock()
	defer v.rotating.Unlock()
	d = v.today.Load()
	if day <= d.day {
		return d
	}
	next := newVisitorDay(day, nil)
	v.today.Store(next)
	d.destroy()
	return next
}

// destroy overwrites the day's key and every pair, and releases the memory.
func (d *visitorDay) destroy() {
	d.keyMu.Lock()
	d.key.destroy()
	d.keyMu.Unlock()
	for i := range d.shards {
		sh := &d.shards[i]
		sh.mu.Lock()
		d.bytes.Add(-int64(sh.set.wipe()))
		sh.dead = true
		sh.mu.Unlock()
	}
	d.pairs.Store(0)
}

// Visitor derives today's key for a visitor: HMAC-SHA256(salt, site, 0,
// ip as 16 bytes, user agent), 64 bits of it. The IP and user agent are
// used here and nowhere else; only the 64-bit result leaves. It does not
// allocate (apart from a site's first visitor of the day).
func (v *Visitors) Visitor(site string, ip netip.Addr, userAgent string) Visitor {
	return v.VisitorAt(v.now(), site, ip, userAgent)
}

// VisitorAt is Visitor for a hit read at now, so that the hour a hit is
// counted in and the day of its visitor come from one clock read: a hit
// just before midnight is never counted on one day and its visitor on the
// next. A hit whose day has already passed gets no visitor.
func (v *Visitors) VisitorAt(now time.Time, site string, ip netip.Addr, userAgent string) Visitor {
	vis, _ := v.VisitorUnder(now, site, -1, ip, userAgent)
	return vis
}

// VisitorUnder is VisitorAt for a site held to limit pairs a day: when the
// site already remembers limit pairs today it computes nothing and
// returns false. A negative limit is no limit. The check and the pairs
// that follow are not one step: concurrent hits may take a site a few
// pairs past its limit.
func (v *Visitors) VisitorUnder(now time.Time, site string, limit int, ip netip.Addr, userAgent string) (Visitor, bool) {
	day := dayOf(now)
	d := v.dayAt(day)
	if d.day != day {
		return Visitor{}, true // the day ended while the hit was on its way
	}
	sc := d.site(site)
	if limit >= 0 && sc.n.Load() >= int64(limit) {
		return Visitor{}, false
	}
	return d.visitor(site, sc, ip, userAgent), true
}

// SiteLen is the number of pairs the site remembers today: one atomic
// load after a map lookup.
func (v *Visitors) SiteLen(site string) int {
	d := v.current()
	if m := d.sites.Load(); m != nil {
		if sc, ok := (*m)[site]; ok {
			return int(sc.n.Load())
		}
	}
	return 0
}

// site returns the site's count of the day, made on first use.
func (d *visitorDay) site(site string) *siteCount {
	if m := d.sites.Load(); m != nil {
		if sc, ok := (*m)[site]; ok {
			return sc
		}
	}
	d.sitesMu.Lock()
	defer d.sitesMu.Unlock()
	old := d.sites.Load()
	next := make(map[string]*siteCount, 1)
	if old != nil {
		if sc, ok := (*old)[site]; ok {
			return sc
		}
		maps.Copy(next, *old)
	}
	sc := &siteCount{}
	next[strings.Clone(site)] = sc
	d.sites.Store(&next)
	return sc
}

func (d *visitorDay) visitor(site string, sc *siteCount, ip netip.Addr, userAgent string) Visitor {
	d.keyMu.RLock()
	defer d.keyMu.RUnlock()
	if d.key.inner == nil {
		return Visitor{} // the day ended while we were here
	}
	h := start(&d.key)
	h.write(site)
	h.writeByte(0)
	ip16 := ip.As16()
	h.writeBytes(ip16[:])
	h.write(userAgent)
	id := h.finish(&d.key)
	if id == 0 {
		id = 1 // 0 is reserved for "no visitor"
	}
	return Visitor{id: id, day: d.day, site: sc}
}

// FirstToday reports whether this is the visitor's first hit today with the
// given dimension value, and remembers it. A key made before midnight is
// refused after it: its salt is gone.
func (v *Visitors) FirstToday(vis Visitor, dimension, value string) bool {
	if vis.id == 0 {
		return false
	}
	d := v.current()
	if vis.day != d.day {
		return false
	}
	if !d.add(vis.id, dimension, value) {
		return false
	}
	vis.site.n.Add(1)
	return true
}

// add remembers the pair and reports whether it is new.
func (d *visitorDay) add(id uint64, dimension, value string) bool {
	k := d.pairKey(id, dimension, value)
	if k == 0 {
		k = 1
	}
	sh := &d.shards[k%shards]
	sh.mu.Lock()
	if sh.dead {
		sh.mu.Unlock()
		return false
	}
	added, grew := sh.set.add(k)
	sh.mu.Unlock()
	if grew != 0 {
		d.bytes.Add(int64(grew))
	}
	if added {
		d.pairs.Add(1)
	}
	return added
}

// pairKey is xxhash64 of (seed, id, dimension, 0, value): keyed by the
// day's seed and the visitor's id (itself a keyed MAC), so nobody without
// them can aim at a slot. Hashed in one call from a stack buffer: the
// streaming digest costs twice as much on inputs this short.
func (d *visitorDay) pairKey(id uint64, dimension, value string) uint64 {
	var buf [256]byte
	n := 16 + len(dimension) + 1 + len(value)
	binary.LittleEndian.PutUint64(buf[0:], d.seed)
	binary.LittleEndian.PutUint64(buf[8:], id)
	if n <= len(buf) {
		copy(buf[16:], dimension)
		buf[16+len(dimension)] = 0
		copy(buf[17+len(dimension):], value)
		return xxhash.Sum64(buf[:n])
	}
	var h xxhash.Digest // the same bytes, streamed: the same key
	h.Reset()
	h.Write(buf[:16])
	h.WriteString(dimension)
	h.Write(buf[255:]) // 0
	h.WriteString(value)
	return h.Sum64()
}

// Pair is a dimension value to test with FirstTodayAll.
type Pair struct {
	Dimension, Value string
	First            bool // set by FirstTodayAll
}

// FirstTodayAll is FirstToday for several values of one hit: it sets
// First on each pair. The clock is read once, where FirstToday reads it on
// every call.
func (v *Visitors) FirstTodayAll(vis Visitor, pairs []Pair) {
	if vis.id == 0 {
		for i := range pairs {
			pairs[i].First = false
		}
		return
	}
	d := v.current()
	added := 0
	for i := range pairs {
		pairs[i].First = vis.day == d.day && d.add(vis.id, pairs[i].Dimension, pairs[i].Value)
		if pairs[i].First {
			added++
		}
	}
	if added > 0 {
		vis.site.n.Add(int64(added))
	}
}

// Len is the number of (visitor, dimension, value) pairs remembered today.
// It is one atomic load: cheap enough to check on every hit.
func (v *Visitors) Len() int { return int(v.current().pairs.Load()) }

// Bytes is the memory of today's pair tables (10 to 15 bytes a pair).
func (v *Visitors) Bytes() int { return int(v.current().bytes.Load()) }
