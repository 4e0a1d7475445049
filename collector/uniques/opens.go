package uniques

import (
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"
)

// Opens remembers which recipients opened which campaign, as 64-bit HMACs,
// for a counting window. Safe for concurrent use.
type Opens struct {
	now    func() time.Time
	window int64 // seconds
	base   int64 // unix seconds of stamp 0: stamps are seconds since base
	key    macKey

	mu        sync.Mutex
	first     stampMap // HMAC -> stamp of the first open
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
	o := &Opens{now: now, window: int64(window / time.Second), base: t, lastSweep: t}
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
	return o.FirstKey(o.Key(site, campaign, recipientToken))
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

// FirstKey is FirstOpen for a key made by Key; 0 is never first.
func (o *Opens) FirstKey(k uint64) bool {
	if k == 0 {
		return false
	}
	now := o.now().Unix()
	st := o.stamp(now)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sweep(now)
	if first, ok := o.first.get(k); ok && int64(st)-int64(first) < o.window {
		return false
	}
	o.bytes.Add(int64(o.first.put(k, st)))
	o.n.Store(int64(o.first.len()))
	return true
}

// sweep forgets expired opens, at most once an hour. Called with mu held.
func (o *Opens) sweep(now int64) {
	if now-o.lastSweep < 3600 {
		return
	}
	o.lastSweep = now
	st := int64(o.stamp(now))
	o.bytes.Add(int64(o.first.deleteIf(func(first uint32) bool { return st-int64(first) >= o.window })))
	o.n.Store(int64(o.first.len()))
}

// Len is the number of remembered opens: one atomic load.
func (o *Opens) Len() int { return int(o.n.Load()) }

// Bytes is the memory of the table (12 bytes a slot, 15 to 23 an open).
func (o *Opens) Bytes() int { return int(o.bytes.Load()) }
