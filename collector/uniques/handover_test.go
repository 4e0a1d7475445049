package uniques

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

func newDay(window time.Duration, clock func() time.Time) Day {
	return Day{Visitors: NewVisitors(clock), Opens: NewOpens(window, clock), Clicks: NewClicks(window, clock)}
}

// TestHandoverKeepsTheDay: a visitor, a recipient's open and click seen
// before a graceful restart are recognised after it, on the same day, each
// site keeps its count of pairs (its share of the memory), and the file is
// gone once read.
func TestHandoverKeepsTheDay(t *testing.T) {
	now := time.Date(2026, 5, 1, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), HandoverFile)
	ip := netip.MustParseAddr("2001:db8::7")
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"

	d := newDay(time.Hour, clock)
	v, o, c := d.Visitors, d.Opens, d.Clicks
	vis := v.Visitor("example.com", ip, ua)
	for i := range 5000 { // enough pairs to fill several tables
		v.FirstToday(vis, "path", "/p"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)))
	}
	v.FirstToday(v.Visitor("example.org", ip, ua), "total", "")
	if !v.FirstToday(vis, "path", "/") || !o.FirstOpen("example.com", "spring", "r1") || !o.FirstOpen("example.org", "news", "r1") {
		t.Fatal("first hits not first")
	}
	if cf, lf := c.FirstClick("example.com", "spring", "l1", "r1"); !cf || !lf {
		t.Fatal("first click not first")
	}
	pairs, opens, clicks, siteA := v.Len(), o.Len(), c.Len(), v.SiteLen("example.com")
	if err := SaveDay(path, d); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("handover file mode %v, want 0600", fi.Mode().Perm())
	}

	now = now.Add(2 * time.Hour) // later the same day
	d2 := newDay(3*time.Hour, clock)
	v2, o2, c2 := d2.Visitors, d2.Opens, d2.Clicks
	ok, err := RestoreDay(path, d2)
	if !ok || err != nil {
		t.Fatalf("restore: %v %v", ok, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file survived the start: %v", err)
	}
	if v2.Len() != pairs || o2.Len() != opens || c2.Len() != clicks {
		t.Fatalf("restored %d pairs, %d opens and %d clicks, want %d, %d and %d", v2.Len(), o2.Len(), c2.Len(), pairs, opens, clicks)
	}
	if v2.SiteLen("example.com") != siteA || v2.SiteLen("example.org") != 1 || o2.SiteLen("example.org") != 1 {
		t.Fatalf("sites' counts: %d and %d pairs, %d opens; want %d, 1 and 1", v2.SiteLen("example.com"), v2.SiteLen("example.org"), o2.SiteLen("example.org"), siteA)
	}
	vis2 := v2.Visitor("example.com", ip, ua)
	if vis2.id != vis.id {
		t.Fatal("the same visitor has another key after the restart: the salt did not cross it")
	}
	if v2.FirstToday(vis2, "path", "/") || v2.FirstToday(vis2, "path", "/paaa") {
		t.Error("a visitor seen before the restart counted again")
	}
	if !v2.FirstToday(vis2, "path", "/new") {
		t.Error("a new value after the restart not counted")
	}
	if v2.SiteLen("example.com") != siteA+1 {
		t.Error("the site's count did not go on from the restored one")
	}
	if o2.FirstOpen("example.com", "spring", "r1") || o2.FirstOpen("example.org", "news", "r1") {
		t.Error("a recipient seen before the restart counted again")
	}
	if !o2.FirstOpen("example.com", "spring", "r2") {
		t.Error("a new recipient after the restart not counted")
	}
	if cf, lf := c2.FirstClick("example.com", "spring", "l1", "r1"); cf || lf {
		t.Error("a click seen before the restart counted again")
	}
	if cf, lf := c2.FirstClick("example.com", "spring", "l2", "r1"); cf || !lf {
		t.Errorf("another link of the same recipient after the restart: campaign first %v, link first %v; want false, true", cf, lf)
	}
	// Nothing to restore at the next start.
	if ok, err := RestoreDay(path, newDay(time.Hour, clock)); ok || err != nil {
		t.Fatalf("a second restore: %v %v", ok, err)
	}
}

// TestHandoverOfAnotherDayIsDeletedUnread: after midnight the file is
// refused and deleted; the new day starts empty.
func TestHandoverOfAnotherDayIsDeletedUnread(t *testing.T) {
	now := time.Date(2026, 5, 1, 23, 59, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), HandoverFile)
	d := newDay(0, clock)
	vis := d.Visitors.Visitor("example.com", netip.MustParseAddr("10.0.0.1"), "ua")
	d.Visitors.FirstToday(vis, "total", "")
	d.Opens.FirstOpen("example.com", "spring", "r1")
	if err := SaveDay(path, d); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	d2 := newDay(0, clock)
	ok, err := RestoreDay(path, d2)
	if ok || !errors.Is(err, ErrHandoverStale) {
		t.Fatalf("a file of yesterday: %v %v", ok, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("yesterday's file was not deleted")
	}
	if d2.Visitors.Len() != 0 || d2.Opens.Len() != 0 {
		t.Fatal("yesterday's memory came back")
	}
	if !d2.Opens.FirstOpen("example.com", "spring", "r1") {
		t.Error("the day starts empty: the open counts again")
	}
}

// TestDamagedHandoverIsDeleted: any changed byte (or a cut) is refused,
// the file deleted, and nothing of it used.
func TestDamagedHandoverIsDeleted(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	path := filepath.Join(dir, HandoverFile)
	d := newDay(0, clock)
	d.Visitors.FirstToday(d.Visitors.Visitor("example.com", netip.MustParseAddr("10.0.0.1"), "ua"), "total", "")
	d.Opens.FirstOpen("example.com", "spring", "r1")
	d.Clicks.FirstClick("example.com", "spring", "l1", "r1")
	if err := SaveDay(path, d); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(good) { // the magic and the day too: the file then reads as not one, or stale
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x40
		for _, data := range [][]byte{bad, good[:i]} {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			d2 := newDay(0, clock)
			if ok, err := RestoreDay(path, d2); ok || err == nil {
				t.Fatalf("byte %d: a damaged file was restored", i)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("byte %d: a damaged file survived the start", i)
			}
			if d2.Visitors.Len() != 0 || d2.Opens.Len() != 0 || d2.Clicks.Len() != 0 {
				t.Fatalf("byte %d: a damaged file was half used", i)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left: %v", entries)
	}
}

// TestPairKeyLongValues: a value too long for the stack buffer is hashed
// streaming, to the key the one-shot hash gives the same bytes.
func TestPairKeyLongValues(t *testing.T) {
	d := newVisitorDay(1, nil)
	for _, n := range []int{0, 1, 200, 230, 231, 232, 240, 1000} {
		v := strings.Repeat("x", n)
		want := xxhash.Sum64(append(append(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, d.seed), 42), "path\x00"...), v...))
		if got := d.pairKey(42, "path", v); got != want {
			t.Errorf("value of %d bytes: key %x, want %x", n, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { d.pairKey(42, "path", "/pricing") }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// TestHandoverTempFileDoesNotSurvive: a save killed before its rename
// leaves a temporary file with the day's secrets; the next start deletes
// it, whether or not there is a handover to read.
func TestHandoverTempFileDoesNotSurvive(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	path := filepath.Join(dir, HandoverFile)
	d := newDay(0, clock)
	d.Visitors.FirstToday(d.Visitors.Visitor("example.com", netip.MustParseAddr("10.0.0.1"), "ua"), "total", "")
	if err := SaveDay(path, d); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// As a killed save leaves it: the whole file, under its temporary name.
	tmp := path + ".123456.tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "00000000000000000001.seg") // not ours: left alone
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, err := RestoreDay(path, newDay(0, clock)); ok || err != nil {
		t.Fatalf("restore with only a temporary file: %v %v", ok, err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the temporary file survived the start: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("another file of the spool directory was deleted: %v", err)
	}
}
