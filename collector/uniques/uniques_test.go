package uniques

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

func TestVisitorsOncePerDayPerValue(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 23, 0, 0, 0, time.UTC)}
	v := NewVisitors(clk.now)
	ip := netip.MustParseAddr("192.0.2.1")
	a := v.Visitor("example.com", ip, "UA")
	if !v.FirstToday(a, "path", "/") || v.FirstToday(a, "path", "/") {
		t.Fatal("a visitor must count once per value")
	}
	if !v.FirstToday(a, "path", "/pricing") || !v.FirstToday(a, "source", "/") {
		t.Fatal("another value or dimension is another first")
	}
	// The same person is the same visitor within the day...
	if v.FirstToday(v.Visitor("example.com", ip, "UA"), "path", "/") {
		t.Fatal("same site, address and agent must be recognised")
	}
	// ...but not on another site, address or agent.
	for _, other := range []Visitor{
		v.Visitor("other.com", ip, "UA"),
		v.Visitor("example.com", netip.MustParseAddr("192.0.2.2"), "UA"),
		v.Visitor("example.com", ip, "UA2"),
	} {
		if !v.FirstToday(other, "path", "/") {
			t.Fatal("a different visitor was recognised")
		}
	}
	if v.FirstToday(Visitor{}, "path", "/x") {
		t.Fatal("the zero visitor (no consent) must never count")
	}

	// Midnight UTC: the salt and all memory are gone.
	stale := v.Visitor("example.com", ip, "UA")
	clk.add(time.Hour)
	if v.FirstToday(stale, "path", "/new") {
		t.Fatal("a key made before midnight must not count after it")
	}
	if got := v.Len(); got != 0 {
		t.Fatalf("after rotation %d pairs remain", got)
	}
	next := v.Visitor("example.com", ip, "UA")
	if next.id == stale.id {
		t.Fatal("the same visitor has the same key on two days: the salt did not rotate")
	}
	if !v.FirstToday(next, "path", "/") {
		t.Fatal("a new day counts the visitor again")
	}
}

func TestOpensWindow(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	o := NewOpens(48*time.Hour, clk.now)
	if !o.FirstOpen("example.com", "c1", "r1") || o.FirstOpen("example.com", "c1", "r1") {
		t.Fatal("a recipient's open must count once")
	}
	if !o.FirstOpen("example.com", "c2", "r1") {
		t.Fatal("another campaign is another first open")
	}
	for i := 0; i < 2; i++ {
		if o.FirstOpen("example.com", "c1", "") {
			t.Fatal("an open without a recipient token is never unique")
		}
	}
	clk.add(47 * time.Hour)
	if o.FirstOpen("example.com", "c1", "r1") {
		t.Fatal("inside the window the open is remembered")
	}
	clk.add(2 * time.Hour)
	if !o.FirstOpen("example.com", "c1", "r1") {
		t.Fatal("after the window the open is forgotten")
	}
	clk.add(49 * time.Hour)
	o.FirstOpen("example.com", "c9", "r9") // triggers the sweep
	if o.Len() != 1 {
		t.Fatalf("expired opens were not swept: %d remain", o.Len())
	}
}

func BenchmarkVisitor(b *testing.B) {
	v := NewVisitors(nil)
	ip := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		vis := v.Visitor("example.com", ip, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0.0.0")
		v.FirstToday(vis, "path", "/")
	}
}

// refMAC is the reference: crypto/hmac over the same input, 64 bits.
func refMAC(key []byte, parts ...[]byte) uint64 {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return binary.LittleEndian.Uint64(m.Sum(nil))
}

func TestVisitorIsHMACOfSiteAddressAndAgent(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, 32)
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	v := &Visitors{now: clk.now}
	v.today.Store(newVisitorDay(dayOf(clk.now()), bytes.Clone(salt)))
	f := func(site, ip, ua string) {
		t.Helper()
		addr := netip.MustParseAddr(ip)
		ip16 := addr.As16()
		want := refMAC(salt, []byte(site), []byte{0}, ip16[:], []byte(ua))
		if got := v.Visitor(site, addr, ua); got.id != want {
			t.Errorf("Visitor(%q, %s, %.20q) = %x, want HMAC %x", site, ip, ua, got.id, want)
		}
	}
	f("example.com", "192.0.2.1", "Mozilla/5.0")
	f("example.com", "2001:db8::1", "")
	f("", "192.0.2.1", "UA")
	// Longer than the hasher's buffer, and exactly its size.
	f("example.com", "192.0.2.1", strings.Repeat("Mozilla/5.0 (X11) ", 40))
	f(strings.Repeat("s", 256-1-16), "192.0.2.1", "")
	f(strings.Repeat("s", 256), "192.0.2.1", strings.Repeat("u", 256))
}

func TestFirstOpenIsHMACOfSiteCampaignAndToken(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	o := NewOpens(time.Hour, nil)
	o.key = newMACKey(bytes.Clone(key))
	o.FirstOpen("example.com", "spring", "r1")
	want := refMAC(key, []byte("example.com\x00spring\x00r1"))
	if _, ok := o.sites["example.com"].get(want); !ok {
		t.Fatalf("the open is not remembered under HMAC(key, site, campaign, token) = %x", want)
	}
}

func TestVisitorsDoNotAllocate(t *testing.T) {
	v := NewVisitors(nil)
	ip := netip.MustParseAddr("192.0.2.1")
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	v.FirstToday(v.Visitor("example.com", ip, ua), "path", "/") // warm the pool and the table
	if n := testing.AllocsPerRun(1000, func() {
		v.FirstToday(v.Visitor("example.com", ip, ua), "path", "/")
	}); n != 0 {
		t.Fatalf("Visitor + FirstToday allocate %.1f times per call", n)
	}
	o := NewOpens(0, nil)
	o.FirstOpen("example.com", "c", "r")
	if n := testing.AllocsPerRun(1000, func() { o.FirstOpen("example.com", "c", "r") }); n != 0 {
		t.Fatalf("FirstOpen allocates %.1f times per call", n)
	}
}

func TestRotationDestroysTheDay(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	v := NewVisitors(clk.now)
	ip := netip.MustParseAddr("192.0.2.1")
	for i := range 10_000 {
		v.FirstToday(v.Visitor("example.com", ip, "UA"), "path", fmt.Sprint(i))
	}
	if v.Len() != 10_000 || v.Bytes() < 10_000*8 {
		t.Fatalf("Len %d Bytes %d after 10,000 pairs", v.Len(), v.Bytes())
	}
	old := v.today.Load()
	clk.add(12 * time.Hour)
	if v.Len() != 0 || v.Bytes() != 0 {
		t.Fatalf("after midnight: Len %d Bytes %d, want 0 and 0", v.Len(), v.Bytes())
	}
	if old.key.inner != nil || old.key.outer != nil {
		t.Fatal("yesterday's key states survive the rotation")
	}
	for i := range old.shards {
		if old.shards[i].set.slots != nil || !old.shards[i].dead {
			t.Fatalf("shard %d of yesterday still holds its table", i)
		}
	}
	// A clock stepping back does not revive or rotate again.
	cur := v.today.Load()
	clk.add(-13 * time.Hour)
	if v.current() != cur {
		t.Fatal("a clock stepping back rotated the day")
	}
}

func TestSet64(t *testing.T) {
	var s set64
	ref := map[uint64]bool{}
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 200_000 {
		k := r.Uint64() | 1
		if i%7 == 0 {
			k = uint64(i)<<1 | 1 // small keys: they crowd the first slots
		}
		if i%5 == 0 {
			k = ^uint64(i) // large keys: they crowd the last slots and wrap
		}
		added, _ := s.add(k)
		if added == ref[k] {
			t.Fatalf("add(%x) = %v, but the key was present: %v", k, added, ref[k])
		}
		ref[k] = true
		if load := float64(s.n) / float64(len(s.slots)); load > 0.8 {
			t.Fatalf("load %.2f above 0.8 at %d keys", load, s.n)
		}
	}
	if s.n != len(ref) {
		t.Fatalf("n = %d, want %d", s.n, len(ref))
	}
	for k := range ref {
		if !s.has(k) {
			t.Fatalf("lost %x after growing", k)
		}
		if added, _ := s.add(k); added {
			t.Fatalf("%x added twice", k)
		}
	}
	if s.has(2) {
		t.Fatal("has a key never added")
	}
}

func TestStampMapDeleteIf(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for round := range 50 {
		var m stampMap
		ref := map[uint64]uint32{}
		n := 1 + r.IntN(3000)
		for i := range n {
			k := r.Uint64() | 1
			if i%3 == 0 {
				k = ^uint64(r.IntN(1 << 20)) // cluster at the end of the table, wrapping
			}
			st := uint32(r.IntN(100))
			m.put(k, st)
			ref[k] = st
		}
		cut := uint32(r.IntN(100))
		m.deleteIf(func(s uint32) bool { return s < cut })
		for k, st := range ref {
			got, ok := m.get(k)
			if (st < cut) == ok || ok && got != st {
				t.Fatalf("round %d: key %x stamp %d, cut %d: get = %d, %v", round, k, st, cut, got, ok)
			}
			if st < cut {
				delete(ref, k)
			}
		}
		if m.len() != len(ref) {
			t.Fatalf("round %d: len %d, want %d", round, m.len(), len(ref))
		}
		if len(m.keys) > minSlots && m.n*shrinkDen < len(m.keys) {
			t.Fatalf("round %d: %d entries in %d slots were not shrunk", round, m.n, len(m.keys))
		}
	}
}

// TestVisitorsConcurrent runs hits from many goroutines, then again while
// midnight passes: each (visitor, value) pair must be first exactly once
// per day, and a hit keyed before midnight must not count after it.
func TestVisitorsConcurrent(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 23, 59, 0, 0, time.UTC)}
	v := NewVisitors(clk.now)
	day1 := dayOf(clk.now())
	const workers, visitors, values = 8, 200, 20
	var firsts [2]atomic.Int64 // by the day of the visitor key
	run := func() {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range visitors {
					ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
					vis := v.Visitor("example.com", ip, "UA")
					for j := range values {
						if v.FirstToday(vis, "path", fmt.Sprint((j+w)%values)) {
							firsts[vis.day-day1].Add(1)
						}
					}
				}
			})
		}
		wg.Wait()
	}
	run()
	// Rotate while hits are in flight, then make sure every pair was seen
	// on the new day.
	var wg sync.WaitGroup
	wg.Go(func() { clk.add(2 * time.Minute); v.Len() })
	run()
	wg.Wait()
	run()
	for day := range firsts {
		if got := firsts[day].Load(); got != visitors*values {
			t.Errorf("day %d: %d first pairs, want %d", day+1, got, visitors*values)
		}
	}
	if n := v.Len(); n != visitors*values {
		t.Errorf("%d pairs remembered on day 2, want %d", n, visitors*values)
	}
}

func TestOpensConcurrent(t *testing.T) {
	o := NewOpens(0, nil)
	var firsts atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if o.FirstOpen("example.com", "c", fmt.Sprint(i)) {
					firsts.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 2000 || o.Len() != 2000 {
		t.Fatalf("%d first opens, %d remembered; want 2000", firsts.Load(), o.Len())
	}
	if b := o.Bytes(); b < 2000*slotBytes || b > 2000*slotBytes*2 {
		t.Fatalf("Bytes = %d for 2000 opens", b)
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// fillPairs adds n distinct pairs: 1 visitor in 10 values per visitor.
func fillPairs(v *Visitors, n int) {
	values := [10]string{"/", "/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h", "/i"}
	for i := 0; i < n; i += len(values) {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		vis := v.Visitor("example.com", ip, "UA")
		for _, val := range values {
			v.FirstToday(vis, "path", val)
		}
	}
}

// TestBytesPerPair measures the live heap of 1M pairs, the bound
// being 16 bytes a pair, and checks that Bytes reports it.
func TestBytesPerPair(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 1M pairs")
	}
	before := heapInUse()
	v := NewVisitors(nil)
	fillPairs(v, 1_000_000)
	after := heapInUse()
	perPair := float64(after-before) / float64(v.Len())
	t.Logf("%d pairs: %.2f bytes/pair live heap, Bytes() = %.2f bytes/pair", v.Len(), perPair, float64(v.Bytes())/float64(v.Len()))
	if perPair > 16 {
		t.Errorf("%.2f bytes per pair, want at most 16", perPair)
	}
	if reported := float64(v.Bytes()); reported > float64(after-before) || reported < 0.9*float64(after-before) {
		t.Errorf("Bytes() = %.0f, measured %d", reported, after-before)
	}
	runtime.KeepAlive(v)
}

// BenchmarkBytesPerPair reports the memory of a pair at several sizes
// (the figure moves between growth steps).
func BenchmarkBytesPerPair(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000, 1_500_000, 3_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var perPair float64
			for range b.N {
				before := heapInUse()
				v := NewVisitors(nil)
				fillPairs(v, n)
				perPair = float64(heapInUse()-before) / float64(v.Len())
				runtime.KeepAlive(v)
			}
			b.ReportMetric(perPair, "bytes/pair")
		})
	}
}

func BenchmarkFirstTodayParallel(b *testing.B) {
	v := NewVisitors(nil)
	fillPairs(v, 1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		vis := v.Visitor("example.com", netip.MustParseAddr("192.0.2.1"), "UA")
		for pb.Next() {
			v.FirstToday(vis, "path", "/")
		}
	})
}

func TestFirstTodayAllMatchesFirstToday(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 23, 0, 0, 0, time.UTC)}
	v := NewVisitors(clk.now)
	vis := v.Visitor("example.com", netip.MustParseAddr("192.0.2.1"), "UA")
	v.FirstToday(vis, "path", "/seen")
	pairs := []Pair{{Dimension: "path", Value: "/seen"}, {Dimension: "path", Value: "/new"},
		{Dimension: "source", Value: "/new"}, {Dimension: "path", Value: "/new"}}
	v.FirstTodayAll(vis, pairs)
	for i, want := range []bool{false, true, true, false} {
		if pairs[i].First != want {
			t.Errorf("pair %d %+v: First = %v, want %v", i, pairs[i], pairs[i].First, want)
		}
	}
	if v.FirstToday(vis, "source", "/new") {
		t.Error("FirstTodayAll did not remember its pairs")
	}
	pairs[1].First = true
	v.FirstTodayAll(Visitor{}, pairs)
	if pairs[1].First {
		t.Error("the zero visitor counted")
	}
	clk.add(time.Hour)
	pairs = []Pair{{Dimension: "path", Value: "/after-midnight"}}
	v.FirstTodayAll(vis, pairs)
	if pairs[0].First {
		t.Error("a key made before midnight counted after it")
	}
}

// BenchmarkBytesPerOpen reports the memory of a remembered open.
func BenchmarkBytesPerOpen(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var perOpen float64
			for range b.N {
				before := heapInUse()
				o := NewOpens(0, nil)
				for i := range n {
					o.FirstOpen("example.com", "spring", strconv.Itoa(i))
				}
				perOpen = float64(heapInUse()-before) / float64(o.Len())
				runtime.KeepAlive(o)
			}
			b.ReportMetric(perOpen, "bytes/open")
		})
	}
}

// TestSitesCountTheirOwnPairs: each site's pairs are counted apart, a site
// at its limit gets no visitor key (nothing is computed), another site
// still does, and midnight starts every site from zero.
func TestSitesCountTheirOwnPairs(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	v := NewVisitors(clk.now)
	ip := netip.MustParseAddr("192.0.2.1")
	for i := range 5 {
		vis, ok := v.VisitorUnder(clk.now(), "a.example", 6, ip, "UA")
		if !ok {
			t.Fatalf("a.example refused at hit %d, limit 6", i)
		}
		pairs := []Pair{{Dimension: "path", Value: fmt.Sprint(i)}, {Dimension: "path", Value: "/"}}
		v.FirstTodayAll(vis, pairs)
	}
	if got := v.SiteLen("a.example"); got != 6 { // five paths and "/"
		t.Fatalf("a.example has %d pairs, want 6", got)
	}
	if _, ok := v.VisitorUnder(clk.now(), "a.example", 6, ip, "UA"); ok {
		t.Fatal("a site at its limit got a visitor key")
	}
	vis, ok := v.VisitorUnder(clk.now(), "b.example", 6, ip, "UA")
	if !ok || !v.FirstToday(vis, "path", "/") {
		t.Fatal("another site was held to the first site's count")
	}
	if v.SiteLen("b.example") != 1 || v.Len() != 7 || v.SiteLen("c.example") != 0 {
		t.Fatalf("SiteLen b %d, Len %d; want 1 and 7", v.SiteLen("b.example"), v.Len())
	}
	if _, ok := v.VisitorUnder(clk.now(), "a.example", -1, ip, "UA"); !ok {
		t.Fatal("a negative limit must mean none")
	}
	clk.add(12 * time.Hour)
	if v.SiteLen("a.example") != 0 {
		t.Fatal("a site's count survived midnight")
	}
	if _, ok := v.VisitorUnder(clk.now(), "a.example", 6, ip, "UA"); !ok {
		t.Fatal("a new day did not give the site its share back")
	}
}

// TestOpensAreHeldToASiteLimit: a site at its limit remembers no new open
// but still recognises the ones it holds; other sites are not affected;
// expired opens make room again.
func TestOpensAreHeldToASiteLimit(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	o := NewOpens(24*time.Hour, clk.now)
	for i := range 3 {
		if first, ok := o.FirstOpenUnder("a.example", "c", fmt.Sprint(i), 3); !first || !ok {
			t.Fatalf("open %d: first %v ok %v", i, first, ok)
		}
	}
	if first, ok := o.FirstOpenUnder("a.example", "c", "new", 3); first || ok {
		t.Fatalf("a site at its limit: first %v ok %v, want false false", first, ok)
	}
	if first, ok := o.FirstOpenUnder("a.example", "c", "1", 3); first || !ok {
		t.Fatalf("a repeated open at the limit: first %v ok %v, want false true", first, ok)
	}
	if first, ok := o.FirstOpenUnder("b.example", "c", "new", 3); !first || !ok {
		t.Fatal("another site was held to the first site's limit")
	}
	if first, ok := o.FirstOpenUnder("a.example", "c", "", 0); first || !ok {
		t.Fatal("an open without a token needs no memory and is never refused")
	}
	if o.SiteLen("a.example") != 3 || o.SiteLen("b.example") != 1 || o.Len() != 4 {
		t.Fatalf("SiteLen a %d b %d Len %d, want 3 1 4", o.SiteLen("a.example"), o.SiteLen("b.example"), o.Len())
	}
	bytes := o.Bytes()
	clk.add(25 * time.Hour)
	if first, ok := o.FirstOpenUnder("a.example", "c", "new", 3); !first || !ok {
		t.Fatal("expired opens did not make room")
	}
	if o.Len() != 1 || o.SiteLen("b.example") != 0 || o.Bytes() >= bytes {
		t.Fatalf("after the window: Len %d, b %d, Bytes %d (was %d)", o.Len(), o.SiteLen("b.example"), o.Bytes(), bytes)
	}
}

// TestVisitorAtOneClockRead: the day of a visitor is the day of the time
// the hit was read at, not of a second clock read. A hit read just before
// midnight and processed after it gets no visitor (never yesterday's hour
// with today's visitor); a hit read after midnight rotates the day even if
// the Visitors' own clock has not moved yet.
func TestVisitorAtOneClockRead(t *testing.T) {
	midnight := time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: midnight.Add(-time.Millisecond)}
	v := NewVisitors(clk.now)
	ip := netip.MustParseAddr("192.0.2.1")
	read := clk.t
	clk.t = midnight.Add(time.Millisecond) // the day rotates while the hit is on its way
	v.Len()                                // another hit's look at the clock rotates it
	if vis := v.VisitorAt(read, "example.com", ip, "UA"); vis.id != 0 {
		t.Fatalf("a hit read before midnight got a visitor of %d after it", vis.day)
	}
	clk.t = midnight.Add(-time.Second) // the Visitors' clock lags the hit's
	vis := v.VisitorAt(midnight.Add(time.Second), "example.com", ip, "UA")
	if vis.id == 0 || vis.day != dayOf(midnight) || !v.FirstToday(vis, "path", "/") {
		t.Fatalf("a hit read after midnight: %+v", vis)
	}
}
