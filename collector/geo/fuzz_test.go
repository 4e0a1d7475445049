package geo_test

import (
	"net/netip"
	"strings"
	"testing"

	"tally/collector/geo"
	"tally/collector/geo/geotest"
)

// FuzzLookup checks that any address gives either Region{} or a well-formed
// region from the fixture, without panicking.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"81.2.69.1", "::ffff:81.2.69.142", "2001:db8::1", "2001:db8:1::1%x", "8.8.8.8", "::"} {
		f.Add(s)
	}
	l := openFixture(f, geotest.WriteDB)
	known := map[geo.Region]bool{{}: true}
	for _, r := range fixture {
		known[r] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		got := l.Lookup(ip)
		if !known[got] {
			t.Fatalf("Lookup(%s) = %+v, not in the fixture", ip, got)
		}
		if got.Subdivision != "" && !strings.HasPrefix(got.Subdivision, got.Country+"-") {
			t.Fatalf("Lookup(%s) = %+v: subdivision of another country", ip, got)
		}
	})
}
