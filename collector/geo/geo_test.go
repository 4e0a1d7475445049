package geo_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/geoip2-golang/v2"

	"tally/collector/geo"
	"tally/collector/geo/geotest"
)

var fixture = map[string]geo.Region{
	"81.2.69.0/24":    {Country: "GB", Subdivision: "GB-ENG"},
	"81.2.69.128/25":  {Country: "GB", Subdivision: "GB-SCT"},
	"192.0.2.0/24":    {Country: "FR"},
	"198.51.100.0/24": {}, // a known network without a country, as for some anycast ranges
	"2001:db8::/32":   {Country: "DE", Subdivision: "DE-BY"},
	"2001:db8:1::/48": {Country: "AT", Subdivision: "AT-9"},
	"203.0.113.7":     {Country: "US", Subdivision: "US-CA"},
}

func openFixture(t testing.TB, write func(testing.TB, string, map[string]geo.Region)) *geo.Locator {
	t.Helper()
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	write(t, path, fixture)
	l, err := geo.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

func lookup(l *geo.Locator, s string) geo.Region {
	if s == "" {
		return l.Lookup(netip.Addr{})
	}
	return l.Lookup(netip.MustParseAddr(s))
}

func TestLookupCityDatabase(t *testing.T) {
	l := openFixture(t, geotest.WriteDB)
	f := func(ip string, want geo.Region) {
		t.Helper()
		if got := lookup(l, ip); got != want {
			t.Errorf("Lookup(%s) = %+v, want %+v", ip, got, want)
		}
	}
	gbENG := geo.Region{Country: "GB", Subdivision: "GB-ENG"}
	gbSCT := geo.Region{Country: "GB", Subdivision: "GB-SCT"}
	deBY := geo.Region{Country: "DE", Subdivision: "DE-BY"}

	// IPv4, including a more specific network inside a wider one.
	f("81.2.69.1", gbENG)
	f("81.2.69.127", gbENG)
	f("81.2.69.142", gbSCT)
	f("203.0.113.7", geo.Region{Country: "US", Subdivision: "US-CA"})
	// A country without subdivision, and a record without country.
	f("192.0.2.55", geo.Region{Country: "FR"})
	f("198.51.100.1", geo.Region{})
	// IPv6.
	f("2001:db8::1", deBY)
	f("2001:db8:ffff::1", deBY)
	f("2001:db8:1::42", geo.Region{Country: "AT", Subdivision: "AT-9"})
	f("2001:db8::1%eth0", deBY)
	// IPv4-mapped IPv6 is looked up as IPv4.
	f("::ffff:81.2.69.1", gbENG)
	f("::ffff:81.2.69.142", gbSCT)
	// No match.
	f("8.8.8.8", geo.Region{})
	f("203.0.113.8", geo.Region{})
	f("2001:db9::1", geo.Region{})
	f("::1", geo.Region{})
	// The zero Addr.
	f("", geo.Region{})
}

// TestLookupReturnsNothingFiner checks with an independent reader that the
// fixture really carries city, postal code, coordinates and a second
// subdivision, and that none of it comes back from Lookup.
func TestLookupReturnsNothingFiner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	geotest.WriteDB(t, path, fixture)
	ip := netip.MustParseAddr("81.2.69.1")

	ref, err := geoip2.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	city, err := ref.City(ip)
	if err != nil {
		t.Fatal(err)
	}
	if city.City.Names.English != geotest.CityName || city.Postal.Code != geotest.PostalCode ||
		city.Location.Latitude == nil || *city.Location.Latitude != geotest.Latitude ||
		len(city.Subdivisions) != 2 || city.Subdivisions[1].ISOCode != geotest.SecondSubdivisionISOCode {
		t.Fatalf("fixture lacks the finer data this test needs: %+v", city)
	}

	l, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := l.Lookup(ip)
	if want := (geo.Region{Country: "GB", Subdivision: "GB-ENG"}); got != want {
		t.Fatalf("Lookup = %+v, want %+v", got, want)
	}
	s := fmt.Sprintf("%#v", got)
	for _, finer := range []string{
		geotest.CityName, geotest.PostalCode, geotest.TimeZone, geotest.SecondSubdivisionISOCode,
		fmt.Sprint(geotest.Latitude), fmt.Sprint(geotest.Longitude),
	} {
		if strings.Contains(s, finer) {
			t.Errorf("Lookup result %s contains finer data %q", s, finer)
		}
	}
}

// TestLookupAgreesWithGeoIP2 compares Lookup with the City method of
// geoip2-golang over the fixture.
func TestLookupAgreesWithGeoIP2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	geotest.WriteDB(t, path, fixture)
	ref, err := geoip2.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	l, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, s := range []string{"81.2.69.1", "81.2.69.200", "192.0.2.1", "198.51.100.1", "2001:db8::1", "2001:db8:1::1", "203.0.113.7", "8.8.8.8"} {
		ip := netip.MustParseAddr(s)
		c, err := ref.City(ip)
		if err != nil {
			t.Fatal(err)
		}
		want := geo.Region{Country: c.Country.ISOCode}
		if len(c.Subdivisions) > 0 {
			want.Subdivision = c.Country.ISOCode + "-" + c.Subdivisions[0].ISOCode
		}
		if got := l.Lookup(ip); got != want {
			t.Errorf("Lookup(%s) = %+v, geoip2 says %+v", s, got, want)
		}
	}
}

func TestLookupCountryDatabase(t *testing.T) {
	l := openFixture(t, geotest.WriteCountryDB)
	f := func(ip string, want geo.Region) {
		t.Helper()
		if got := lookup(l, ip); got != want {
			t.Errorf("Lookup(%s) = %+v, want %+v", ip, got, want)
		}
	}
	f("81.2.69.1", geo.Region{Country: "GB"})
	f("81.2.69.142", geo.Region{Country: "GB"})
	f("2001:db8::1", geo.Region{Country: "DE"})
	f("::ffff:81.2.69.1", geo.Region{Country: "GB"})
	f("8.8.8.8", geo.Region{})
}

// TestCountryTypeIgnoresSubdivisions checks that the database type decides:
// subdivisions in a database that says it is a Country database are not read.
func TestCountryTypeIgnoresSubdivisions(t *testing.T) {
	l := openFixture(t, func(t testing.TB, path string, entries map[string]geo.Region) {
		geotest.Write(t, path, geotest.Options{DatabaseType: "GeoLite2-Country"}, entries)
	})
	if got, want := lookup(l, "81.2.69.1"), (geo.Region{Country: "GB"}); got != want {
		t.Errorf("Lookup = %+v, want %+v", got, want)
	}
}

// TestIPv4OnlyDatabase shows that a 4-in-6 address is unmapped before the
// lookup: an IPv4-only tree cannot be searched with a 16-byte address.
func TestIPv4OnlyDatabase(t *testing.T) {
	l := openFixture(t, func(t testing.TB, path string, entries map[string]geo.Region) {
		v4 := map[string]geo.Region{}
		for k, v := range entries {
			if !strings.Contains(k, ":") {
				v4[k] = v
			}
		}
		geotest.Write(t, path, geotest.Options{IPVersion: 4}, v4)
	})
	want := geo.Region{Country: "GB", Subdivision: "GB-ENG"}
	for _, ip := range []string{"81.2.69.1", "::ffff:81.2.69.1"} {
		if got := lookup(l, ip); got != want {
			t.Errorf("Lookup(%s) = %+v, want %+v", ip, got, want)
		}
	}
	// The reader fails on an IPv6 address here, with the address in its
	// error message; Lookup swallows it.
	if got := lookup(l, "2001:db8::1"); got != (geo.Region{}) {
		t.Errorf("Lookup(IPv6) = %+v, want Region{}", got)
	}
}

func TestMalformedCodesAreUnknown(t *testing.T) {
	l := openFixture(t, func(t testing.TB, path string, _ map[string]geo.Region) {
		geotest.WriteDB(t, path, map[string]geo.Region{
			"192.0.2.0/24":    {Country: "de"},
			"198.51.100.0/24": {Country: "DE", Subdivision: "DE-LONG"},
			"203.0.113.0/24":  {Country: "D1", Subdivision: "D1-X"},
			"2001:db8::/32":   {Country: "DEU", Subdivision: "DEU-BY"},
		})
	})
	f := func(ip string, want geo.Region) {
		t.Helper()
		if got := lookup(l, ip); got != want {
			t.Errorf("Lookup(%s) = %+v, want %+v", ip, got, want)
		}
	}
	f("192.0.2.1", geo.Region{})
	f("198.51.100.1", geo.Region{Country: "DE"})
	f("203.0.113.1", geo.Region{})
	f("2001:db8::1", geo.Region{})
}

func TestNoDatabase(t *testing.T) {
	l, err := geo.Open("")
	if err != nil {
		t.Fatalf("Open(\"\"): %v", err)
	}
	for _, ip := range []string{"81.2.69.1", "2001:db8::1", "::ffff:81.2.69.1", ""} {
		if got := lookup(l, ip); got != (geo.Region{}) {
			t.Errorf("Lookup(%s) = %+v without database", ip, got)
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	var zero geo.Locator
	if got := zero.Lookup(netip.MustParseAddr("81.2.69.1")); got != (geo.Region{}) {
		t.Errorf("zero Locator: %+v", got)
	}
	var nilLocator *geo.Locator
	if got := nilLocator.Lookup(netip.MustParseAddr("81.2.69.1")); got != (geo.Region{}) {
		t.Errorf("nil Locator: %+v", got)
	}
	if err := nilLocator.Close(); err != nil {
		t.Errorf("nil Close: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	f := func(name string, content []byte) {
		t.Helper()
		path := filepath.Join(dir, name)
		if content != nil {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		l, err := geo.Open(path)
		if err == nil {
			l.Close()
			t.Fatalf("Open(%s): no error", name)
		}
		if !strings.Contains(err.Error(), "geo database") || !strings.Contains(err.Error(), name) {
			t.Errorf("Open(%s): error %q does not say what was opened", name, err)
		}
	}
	f("missing.mmdb", nil)
	f("empty.mmdb", []byte{})
	f("text.mmdb", []byte("not a maxmind database\n"))
	f("truncated.mmdb", []byte("\xab\xcd\xefMaxMind.com"))
}

func TestOpenRejectsNonGeoDatabase(t *testing.T) {
	f := func(dbType string, record mmdbtype.Map) {
		t.Helper()
		tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, IncludeReservedNetworks: true})
		if err != nil {
			t.Fatal(err)
		}
		_, network, _ := net.ParseCIDR("192.0.2.0/24")
		if err := tree.Insert(network, record); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := tree.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "other.mmdb")
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := geo.Open(path)
		if err == nil {
			l.Close()
			t.Fatalf("Open(%s database): no error", dbType)
		}
		if !errors.Is(err, geo.ErrUnsupportedDatabase) || !strings.Contains(err.Error(), dbType) {
			t.Errorf("Open(%s database): error %q", dbType, err)
		}
	}
	f("GeoLite2-ASN", mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(64496),
		"autonomous_system_organization": mmdbtype.String("Example"),
	})
	f("GeoIP2-Anonymous-IP", mmdbtype.Map{"is_anonymous": mmdbtype.Bool(true)})
	// Country-like data under an unknown type is rejected too: the type is
	// what promises the record layout.
	f("My-Own-Geo", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}})
}

func TestCloseTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	geotest.WriteDB(t, path, fixture)
	l, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestConcurrentLookup(t *testing.T) {
	l := openFixture(t, geotest.WriteDB)
	cases := map[string]geo.Region{
		"81.2.69.1":        {Country: "GB", Subdivision: "GB-ENG"},
		"81.2.69.142":      {Country: "GB", Subdivision: "GB-SCT"},
		"2001:db8::1":      {Country: "DE", Subdivision: "DE-BY"},
		"2001:db8:1::1":    {Country: "AT", Subdivision: "AT-9"},
		"::ffff:192.0.2.1": {Country: "FR"},
		"8.8.8.8":          {},
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				for ip, want := range cases {
					if got := lookup(l, ip); got != want {
						t.Errorf("Lookup(%s) = %+v, want %+v", ip, got, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestLookupDoesNotAllocate checks the steady state: the joined subdivision
// code is built once and then reused.
func TestLookupDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race")
	}
	l := openFixture(t, geotest.WriteDB)
	for _, s := range []string{"81.2.69.1", "2001:db8::1", "192.0.2.1", "8.8.8.8", "::ffff:81.2.69.142"} {
		ip := netip.MustParseAddr(s)
		l.Lookup(ip)
		if n := testing.AllocsPerRun(100, func() { l.Lookup(ip) }); n != 0 {
			t.Errorf("Lookup(%s): %v allocations", s, n)
		}
	}
}

// TestLookupLeaksNothing makes lookups fail in every way we know of and checks
// that nothing reaches the standard loggers. The address is the only
// personal data this package sees; it must not be written anywhere.
func TestLookupLeaksNothing(t *testing.T) {
	var buf bytes.Buffer
	oldFlags, oldWriter, oldDefault := log.Flags(), log.Writer(), slog.Default()
	log.SetOutput(&buf)
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer func() {
		log.SetOutput(oldWriter)
		log.SetFlags(oldFlags)
		slog.SetDefault(oldDefault)
	}()

	v4only := openFixture(t, func(t testing.TB, path string, _ map[string]geo.Region) {
		geotest.Write(t, path, geotest.Options{IPVersion: 4}, map[string]geo.Region{"192.0.2.0/24": {Country: "FR"}})
	})
	city := openFixture(t, geotest.WriteDB)
	ips := []string{"2001:db8:dead:beef::1", "198.51.100.77", "8.8.4.4"}
	for _, s := range ips {
		v4only.Lookup(netip.MustParseAddr(s))
		city.Lookup(netip.MustParseAddr(s))
	}
	closed, err := geo.Open(filepath.Join(t.TempDir(), "x.mmdb"))
	if err == nil {
		closed.Close()
	}
	if buf.Len() != 0 {
		t.Errorf("lookups wrote to the log: %q", buf.String())
	}
	for _, s := range ips {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log contains address %s", s)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	l := openFixture(b, geotest.WriteDB)
	country := openFixture(b, geotest.WriteCountryDB)
	bench := func(name string, l *geo.Locator, ips ...string) {
		addrs := make([]netip.Addr, len(ips))
		for i, s := range ips {
			addrs[i] = netip.MustParseAddr(s)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var r geo.Region
			for i := 0; b.Loop(); i++ {
				r = l.Lookup(addrs[i%len(addrs)])
			}
			_ = r
		})
	}
	bench("city/subdivision", l, "81.2.69.1", "2001:db8::1", "81.2.69.142")
	bench("city/country-only", l, "192.0.2.1")
	bench("city/miss", l, "8.8.8.8", "2001:db9::1")
	bench("country", country, "81.2.69.1", "2001:db8::1")
}
