package uniques

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Visitor is a visitor's key for one day. The zero Visitor is "no visitor":
// FirstToday always answers false for it.
type Visitor struct {
	id  uint64
	day int64
}

// Visitors is the day's memory of (visitor, dimension, value) pairs. Safe for
// concurrent use.
type Visitors struct {
	now func() time.Time

	mu   sync.Mutex
	day  int64
	salt [32]byte
	seed maphash.Seed
	seen map[uint64]struct{}
}

// NewVisitors starts the day's memory. now is the clock (time.Now when nil).
func NewVisitors(now func() time.Time) *Visitors {
	if now == nil {
		now = time.Now
	}
	v := &Visitors{now: now}
	v.rotate(dayOf(now()))
	return v
}

func dayOf(t time.Time) int64 { return t.Unix() / 86400 }

// rotate destroys the old salt and every key derived from it. Called with mu
// held (or before v is shared).
func (v *Visitors) rotate(day int64) {
	clear(v.salt[:])
	if _, err := rand.Read(v.salt[:]); err != nil {
		// crypto/rand.Read never returns an error on supported platforms
		// (Go 1.24+ crashes the program instead), so this is unreachable.
		panic("uniques: cannot read random salt: " + err.Error())
	}
	v.seed = maphash.MakeSeed()
	v.seen = make(map[uint64]struct{})
	v.day = day
}

// Visitor derives today's key for a visitor. The IP and user agent are used
// here and nowhere else; only the 64-bit result leaves.
func (v *Visitors) Visitor(site string, ip netip.Addr, userAgent string) Visitor {
	day := dayOf(v.now())
	v.mu.Lock()
	if day != v.day {
		v.rotate(day)
	}
	mac := hmac.New(sha256.New, v.salt[:])
	v.mu.Unlock()

	var buf [16]byte
	mac.Write([]byte(site))
	mac.Write([]byte{0})
	ip16 := ip.As16()
	mac.Write(ip16[:])
	mac.Write([]byte(userAgent))
	sum := mac.Sum(buf[:0])
	id := binary.LittleEndian.Uint64(sum)
	if id == 0 {
		id = 1 // 0 is reserved for "no visitor"
	}
	return Visitor{id: id, day: day}
}

// FirstToday reports whether this is the visitor's first hit today with the
// given dimension value, and remembers it. A key made before midnight is
// refused after it: its salt is gone.
func (v *Visitors) FirstToday(vis Visitor, dimension, value string) bool {
	if vis.id == 0 {
		return false
	}
	today := dayOf(v.now())
	v.mu.Lock()
	defer v.mu.Unlock()
	if today != v.day {
		v.rotate(today)
	}
	if vis.day != v.day {
		return false
	}
	var h maphash.Hash
	h.SetSeed(v.seed)
	var idb [8]byte
	binary.LittleEndian.PutUint64(idb[:], vis.id)
	h.Write(idb[:])
	h.WriteString(dimension)
	h.WriteByte(0)
	h.WriteString(value)
	k := h.Sum64()
	if _, ok := v.seen[k]; ok {
		return false
	}
	v.seen[k] = struct{}{}
	return true
}

// Len is the number of (visitor, dimension, value) pairs remembered today.
func (v *Visitors) Len() int {
	today := dayOf(v.now())
	v.mu.Lock()
	if today != v.day {
		v.rotate(today)
	}
	defer v.mu.Unlock()
	return len(v.seen)
}
