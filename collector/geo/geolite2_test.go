package geo_test

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"

	"github.com/oschwald/geoip2-golang/v2"

	"tally/collector/geo"
)

// The tests in this file run against real MaxMind databases when
// TALLY_GEOLITE2_CITY and/or TALLY_GEOLITE2_COUNTRY name them, and are skipped
// otherwise. They are a manual check, not part of the normal suite.

func realDB(t testing.TB, env string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		t.Skipf("%s not set", env)
	}
	return path
}

// TestGeoLite2AgreesWithGeoIP2 compares Lookup with geoip2-golang's full
// City decoding over many pseudo-random addresses of a real database.
func TestGeoLite2AgreesWithGeoIP2(t *testing.T) {
	for _, env := range []string{"TALLY_GEOLITE2_CITY", "TALLY_GEOLITE2_COUNTRY"} {
		t.Run(env, func(t *testing.T) {
			path := realDB(t, env)
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
			rng := rand.New(rand.NewPCG(1, 2))
			var found, withSubdivision int
			for i := range 200000 {
				var ip netip.Addr
				if i%4 == 0 {
					var a [16]byte
					a[0], a[1] = 0x20, byte(rng.IntN(16)) // 2000::/12, where most of the allocated IPv6 space is
					for j := 2; j < 8; j++ {
						a[j] = byte(rng.Uint32())
					}
					ip = netip.AddrFrom16(a)
				} else {
					ip = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
				}
				c, err := ref.City(ip)
				if err != nil {
					t.Fatal(err)
				}
				want := geo.Region{Country: c.Country.ISOCode}
				if len(c.Subdivisions) > 0 && want.Country != "" {
					want.Subdivision = want.Country + "-" + c.Subdivisions[0].ISOCode
				}
				got := l.Lookup(ip)
				if got != want {
					t.Fatalf("Lookup(%s) = %+v, geoip2 says %+v", ip, got, want)
				}
				if got.Country != "" {
					found++
				}
				if got.Subdivision != "" {
					withSubdivision++
				}
			}
			t.Logf("%d addresses with a country, %d with a subdivision", found, withSubdivision)
		})
	}
}

func TestGeoLite2WellKnown(t *testing.T) {
	l, err := geo.Open(realDB(t, "TALLY_GEOLITE2_CITY"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "81.2.69.142", "89.160.20.112", "2a02:8070::1", "::ffff:81.2.69.142", "2001:4860:4860::8888", "127.0.0.1", "10.1.2.3"} {
		t.Logf("%-22s %+v", s, l.Lookup(netip.MustParseAddr(s)))
	}
}

func BenchmarkLookupGeoLite2(b *testing.B) {
	for _, env := range []string{"TALLY_GEOLITE2_CITY", "TALLY_GEOLITE2_COUNTRY"} {
		b.Run(env, func(b *testing.B) {
			l, err := geo.Open(realDB(b, env))
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			rng := rand.New(rand.NewPCG(3, 4))
			ips := make([]netip.Addr, 4096)
			for i := range ips {
				ips[i] = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				l.Lookup(ips[i%len(ips)])
			}
		})
	}
}
