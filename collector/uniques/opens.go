package uniques

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// Opens remembers which recipients opened which campaign, as 64-bit HMACs,
// for a counting window. Safe for concurrent use.
type Opens struct {
	now    func() time.Time
	window time.Duration
	key    [32]byte

	mu        sync.Mutex
	firstSeen map[uint64]int64 // HMAC -> unix seconds of the first open
	lastSweep int64
}

// NewOpens makes the memory; window is how long a recipient's first open is
// remembered (30 days when <= 0).
func NewOpens(window time.Duration, now func() time.Time) *Opens {
	if window <= 0 {
		window = 30 * 24 * time.Hour
	}
	if now == nil {
		now = time.Now
	}
	o := &Opens{now: now, window: window, firstSeen: make(map[uint64]int64)}
	if _, err := rand.Read(o.key[:]); err != nil {
		panic("uniques: cannot read random key: " + err.Error())
	}
	return o
}

// FirstOpen reports whether this recipient opens this campaign for the first
// time within the window, and remembers it. An empty token is never unique.
func (o *Opens) FirstOpen(site, campaign, recipientToken string) bool {
	if recipientToken == "" {
		return false
	}
	mac := hmac.New(sha256.New, o.key[:])
	mac.Write([]byte(site))
	mac.Write([]byte{0})
	mac.Write([]byte(campaign))
	mac.Write([]byte{0})
	mac.Write([]byte(recipientToken))
	var buf [32]byte
	k := binary.LittleEndian.Uint64(mac.Sum(buf[:0]))

	now := o.now().Unix()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sweep(now)
	if first, ok := o.firstSeen[k]; ok && now-first < int64(o.window/time.Second) {
		return false
	}
	o.firstSeen[k] = now
	return true
}

// sweep forgets expired opens, at most once an hour.
func (o *Opens) sweep(now int64) {
	if now-o.lastSweep < 3600 {
		return
	}
	o.lastSweep = now
	limit := int64(o.window / time.Second)
	for k, first := range o.firstSeen {
		if now-first >= limit {
			delete(o.firstSeen, k)
		}
	}
}

// Len is the number of remembered opens.
func (o *Opens) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.firstSeen)
}
