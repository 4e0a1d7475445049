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

// TestHandoverKeepsTheDay: a visitor and a recipient seen before a
// graceful restart are recognised after it, on the same day, and the file
// is gone once read.
func TestHandoverKeepsTheDay(t *testing.T) {
	now := time.Date(2026, 5, 1, 15, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), HandoverFile)
	ip := netip.MustParseAddr("2001:db8::7")
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"

	v, o := NewVisitors(clock), NewOpens(time.Hour, clock)
	vis := v.Visitor("example.com", ip, ua)
	for i := range 5000 { // enough pairs to fill several tables
		v.FirstToday(vis, "path", "/p"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)))
	}
	if !v.FirstToday(vis, "path", "/") || !o.FirstOpen("example.com", "spring", "r1") {
		t.Fatal("first hits not first")
	}
	pairs, opens := v.Len(), o.Len()
	if err := SaveDay(path, v, o); err != nil {
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
	v2, o2 := NewVisitors(clock), NewOpens(3*time.Hour, clock)
	ok, err := RestoreDay(path, v2, o2)
	if !ok || err != nil {
		t.Fatalf("restore: %v %v", ok, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file survived the start: %v", err)
	}
	if v2.Len() != pairs || o2.Len() != opens {
		t.Fatalf("restored %d pairs and %d opens, want %d and %d", v2.Len(), o2.Len(), pairs, opens)
	}
	vis2 := v2.Visitor("example.com", ip, ua)
	if vis2 != vis {
		t.Fatal("the same visitor has another key after the restart: the salt did not cross it")
	}
	if v2.FirstToday(vis2, "path", "/") || v2.FirstToday(vis2, "path", "/paaa") {
		t.Error("a visitor seen before the restart counted again")
	}
	if !v2.FirstToday(vis2, "path", "/new") {
		t.Error("a new value after the restart not counted")
	}
	if o2.FirstOpen("example.com", "spring", "r1") {
		t.Error("a recipient seen before the restart counted again")
	}
	if !o2.FirstOpen("example.com", "spring", "r2") {
		t.Error("a new recipient after the restart not counted")
	}
	// Nothing to restore at the next start.
	if ok, err := RestoreDay(path, NewVisitors(clock), NewOpens(time.Hour, clock)); ok || err != nil {
		t.Fatalf("a second restore: %v %v", ok, err)
	}
}

// TestHandoverOfAnotherDayIsDeletedUnread: after midnight the file is
// refused and deleted; the new day starts empty.
func TestHandoverOfAnotherDayIsDeletedUnread(t *testing.T) {
	now := time.Date(2026, 5, 1, 23, 59, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), HandoverFile)
	v, o := NewVisitors(clock), NewOpens(0, clock)
	vis := v.Visitor("example.com", netip.MustParseAddr("10.0.0.1"), "ua")
	v.FirstToday(vis, "total", "")
	o.FirstOpen("example.com", "spring", "r1")
	if err := SaveDay(path, v, o); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	v2, o2 := NewVisitors(clock), NewOpens(0, clock)
	ok, err := RestoreDay(path, v2, o2)
	if ok || !errors.Is(err, ErrHandoverStale) {
		t.Fatalf("a file of yesterday: %v %v", ok, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("yesterday's file was not deleted")
	}
	if v2.Len() != 0 || o2.Len() != 0 {
		t.Fatal("yesterday's memory came back")
	}
	if !o2.FirstOpen("example.com", "spring", "r1") {
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
	v, o := NewVisitors(clock), NewOpens(0, clock)
	v.FirstToday(v.Visitor("example.com", netip.MustParseAddr("10.0.0.1"), "ua"), "total", "")
	o.FirstOpen("example.com", "spring", "r1")
	if err := SaveDay(path, v, o); err != nil {
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
			v2, o2 := NewVisitors(clock), NewOpens(0, clock)
			if ok, err := RestoreDay(path, v2, o2); ok || err == nil {
				t.Fatalf("byte %d: a damaged file was restored", i)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("byte %d: a damaged file survived the start", i)
			}
			if v2.Len() != 0 || o2.Len() != 0 {
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
