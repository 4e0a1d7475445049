package geo_test

import (
	"net/netip"
	"testing"

	"tally/collector/geo"
	"tally/collector/geo/geotest"
)

// TestCachedRegionsStayRight looks every fixture address up many times,
// interleaved: the answers read from the record cache are the records'
// own, whatever was looked up before, and a cached answer allocates
// nothing.
func TestCachedRegionsStayRight(t *testing.T) {
	l := openFixture(t, geotest.WriteDB)
	cases := map[string]geo.Region{
		"81.2.69.1":     {Country: "GB", Subdivision: "GB-ENG"},
		"81.2.69.200":   {Country: "GB", Subdivision: "GB-SCT"},
		"192.0.2.9":     {Country: "FR"},
		"198.51.100.1":  {},
		"2001:db8::9":   {Country: "DE", Subdivision: "DE-BY"},
		"2001:db8:1::9": {Country: "AT", Subdivision: "AT-9"},
		"203.0.113.7":   {Country: "US", Subdivision: "US-CA"},
		"10.0.0.1":      {}, // not in the database
	}
	for range 3 {
		for ip, want := range cases {
			if got := l.Lookup(netip.MustParseAddr(ip)); got != want {
				t.Fatalf("Lookup(%s) = %+v, want %+v", ip, got, want)
			}
		}
	}
	ip := netip.MustParseAddr("81.2.69.200")
	if n := testing.AllocsPerRun(100, func() { l.Lookup(ip) }); n != 0 {
		t.Fatalf("a cached lookup allocates %v times", n)
	}
}
