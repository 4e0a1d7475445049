package uniques

import (
	"net/netip"
	"sync"
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
