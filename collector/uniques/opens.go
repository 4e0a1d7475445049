package uniques

import (
	"crypto/rand"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Opens remembers which recipients opened which campaign, as 64-bit HMACs,
// for a counting window. Each site has a table of its own, so that each
// can be held to its share of the memory (FirstOpenUnder). Safe for
// concurrent use.
type Opens struct {
	now    func() time.Time
	window int64 // seconds
	base   int64 // unix seconds of stamp 0: stamps are seconds since base
	key    macKey

	mu        sync.Mutex
	sites     map[string]*stampMap // site -> HMAC -> stamp of the first open
	lastSweep int64

	n     atomic.Int64
	bytes atomic.Int64
}

// DefaultOpenWindow is how long a recipient's first open is remembered
// unless told otherwise: 30 days, the life of most campaigns.
const DefaultOpenWindow = 30 * 24 * time.Hour

// NewOpens makes the memory; window is how long a recipient's first open is
// remembered (DefaultOpenWindow when <= 0).
func NewOpens(window time.Duration, now func() time.Time) *Opens {
	if window <= 0 {
		window = DefaultOpenWindow
	}
	if now == nil {
		now = time.Now
	}
	t := now().Unix()
	o := &Opens{now: now, window: int64(window / time.Second), base: t, lastSweep: t, sites: map[string]*stampMap{}}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		panic("uniques: cannot read random key: " + err.Error())
	}
	o.key = newMACKey(key[:])
	clear(key[:])
	return o
}

// stamp turns unix seconds into a stamp: 32 bits hold 136 years.
func (o *Opens) stamp(unix int64) uint32 {
	return uint32(min(max(unix-o.base, 0), 1<<32-1))
}

// FirstOpen reports whether this recipient opens this campaign for the first
// time within the window, and remembers it. An empty token is never unique.
// It does not allocate, apart from growing the table.
func (o *Opens) FirstOpen(site, campaign, recipientToken string) bool {
	first, _ := o.FirstOpenUnder(site, campaign, recipientToken, -1)
	return first
}

// FirstOpenUnder is FirstOpen for a site held to limit remembered opens
// (negative: no limit). When the open is not one the site remembers and
// the site holds limit opens already, it remembers nothing and ok is
// false; a repeated open is still recognised. The check and the insert
// are one step.
func (o *Opens) FirstOpenUnder(site, campaign, recipientToken string, limit int) (first, ok bool) {
	return o.FirstKeyUnder(site, o.Key(site, campaign, recipientToken), limit)
}

// Key is the remembered form of a recipient's open: a keyed 64-bit hash
// of (site, campaign, token), never 0; 0 for an empty token. A caller that
// must decide later (a click held for the scanner check) keeps the key,
// not the token.
func (o *Opens) Key(site, campaign, recipientToken string) uint64 {
	return o.keyOf(site, campaign, "", recipientToken)
}

// keyOf is Key with one more field (a link label for clicks), empty for
// opens, so that an open's key is what it always was.
func (o *Opens) keyOf(site, campaign, extra, recipientToken string) uint64 {
	if recipientToken == "" {
		return 0
	}
	h := start(&o.key)
	h.write(site)
	h.writeByte(0)
	h.write(campaign)
	h.writeByte(0)
	if extra != "" {
		h.write(extra)
		h.writeByte(0)
	}
	h.write(recipientToken)
	k := h.finish(&o.key)
	if k == 0 {
		k = 1
	}
	return k
}

// FirstKey is FirstOpen for a key of site made by Key, with no limit; 0 is
// never first.
func (o *Opens) FirstKey(site string, k uint64) bool {
	first, _ := o.FirstKeyUnder(site, k, -1)
	return first
}

// FirstKeyUnder is FirstOpenUnder for a key made by Key.
func (o *Opens) FirstKeyUnder(site string, k uint64, limit int) (first, ok bool) {
	if k == 0 {
		return false, true
	}
	now := o.now().Unix()
	st := o.stamp(now)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sweep(now)
	m := o.sites[site]
	prev, known := m.get(k)
	if known && int64(st)-int64(prev) < o.window {
		return false, true
	}
	// An expired entry is overwritten in place: it takes no more room.
	if !known && limit >= 0 && m.len() >= limit {
		return false, false
	}
	if m == nil {
		m = &stampMap{}
		o.sites[strings.Clone(site)] = m
	}
	before := m.len()
	o.bytes.Add(int64(m.put(k, st)))
	o.n.Add(int64(m.len() - before))
	return true, true
}

// sweep forgets expired opens, at most once an hour. Called with mu held.
func (o *Opens) sweep(now int64) {
	if now-o.lastSweep < 3600 {
		return
	}
	o.lastSweep = now
	st := int64(o.stamp(now))
	n := 0
	for site, m := range o.sites {
		o.bytes.Add(int64(m.deleteIf(func(first uint32) bool { return st-int64(first) >= o.window })))
		if m.len() == 0 {
			o.bytes.Add(-int64(m.release()))
			delete(o.sites, site)
			continue
		}
		n += m.len()
	}
	o.n.Store(int64(n))
}

// SiteLen is the number of opens remembered for the site.
func (o *Opens) SiteLen(site string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sites[site].len()
}

// Len is the number of remembered opens: one atomic load.
func (o *Opens) Len() int { return int(o.n.Load()) }

// Bytes is the memory of the tables (12 bytes a slot, 15 to 23 an open).
func (o *Opens) Bytes() int { return int(o.bytes.Load()) }
