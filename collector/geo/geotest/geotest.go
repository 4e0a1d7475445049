package geotest

import (
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"tally/collector/geo"
)

// Database types written by WriteDB and WriteCountryDB.
const (
	DatabaseTypeCity    = "GeoIP2-City"
	DatabaseTypeCountry = "GeoIP2-Country"
)

// The finer data that every City-format record carries besides its region.
// geo.Locator must never return any of it.
const (
	CityName                 = "Testville"
	PostalCode               = "98765"
	Latitude                 = 48.1372
	Longitude                = 11.5756
	TimeZone                 = "Europe/Berlin"
	SecondSubdivisionISOCode = "ZZ9" // subdivisions[1].iso_code, written when a subdivision is given
)

// Options says what kind of database Write produces.
type Options struct {
	// DatabaseType is the metadata database_type; "" means DatabaseTypeCity.
	DatabaseType string
	// IPVersion is 6 (the default; IPv4 networks are reachable too, also
	// through the usual ::ffff:0:0/96 alias) or 4 (an IPv4-only tree).
	IPVersion int
	// CountryOnly writes records in GeoIP2-Country shape: country,
	// registered_country and continent only. Otherwise records have the
	// City shape described in the package comment.
	CountryOnly bool
}

// WriteDB writes a GeoIP2-City database to path. Each key of entries is a
// network in CIDR notation ("81.2.69.0/24", "2001:db8::/32") or a single
// address; its value is the region the database holds for it. A Subdivision
// must start with its Country and a dash ("DE-BY"); the database stores only
// the part after the dash, as MaxMind does. A zero Region writes a record
// without country. More specific networks win over the networks containing
// them. Reserved and documentation ranges are allowed.
func WriteDB(t testing.TB, path string, entries map[string]geo.Region) {
	t.Helper()
	Write(t, path, Options{DatabaseType: DatabaseTypeCity}, entries)
}

// WriteCountryDB writes a GeoIP2-Country database to path: like WriteDB, but
// records carry only the country (a Country database has no subdivisions,
// so the Subdivision of each entry is left out).
func WriteCountryDB(t testing.TB, path string, entries map[string]geo.Region) {
	t.Helper()
	Write(t, path, Options{DatabaseType: DatabaseTypeCountry, CountryOnly: true}, entries)
}

// Write writes a database of the kind opts describes to path; entries are
// as for WriteDB. It fails the test on any error.
func Write(t testing.TB, path string, opts Options, entries map[string]geo.Region) {
	t.Helper()
	if opts.DatabaseType == "" {
		opts.DatabaseType = DatabaseTypeCity
	}
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            opts.DatabaseType,
		IPVersion:               opts.IPVersion,
		IncludeReservedNetworks: true,
		Languages:               []string{"en"},
		Description:             map[string]string{"en": "tally geotest fixture"},
		BuildEpoch:              1700000000,
	})
	if err != nil {
		t.Fatalf("geotest: cannot create database writer: %v", err)
	}

	type entry struct {
		network netip.Prefix
		region  geo.Region
	}
	list := make([]entry, 0, len(entries))
	for key, region := range entries {
		network, err := parseNetwork(key)
		if err != nil {
			t.Fatalf("geotest: entry %q: %v", key, err)
		}
		if region.Subdivision != "" && !strings.HasPrefix(region.Subdivision, region.Country+"-") {
			t.Fatalf("geotest: entry %q: subdivision %q does not start with country %q and a dash", key, region.Subdivision, region.Country)
		}
		list = append(list, entry{network, region})
	}
	// Insert wider networks first so that more specific ones replace their
	// part of them, whatever the map order.
	slices.SortFunc(list, func(a, b entry) int {
		if a.network.Bits() != b.network.Bits() {
			return a.network.Bits() - b.network.Bits()
		}
		return a.network.Addr().Compare(b.network.Addr())
	})
	for _, e := range list {
		ipNet := &net.IPNet{
			IP:   e.network.Addr().AsSlice(),
			Mask: net.CIDRMask(e.network.Bits(), e.network.Addr().BitLen()),
		}
		if err := tree.Insert(ipNet, record(e.region, opts.CountryOnly)); err != nil {
			t.Fatalf("geotest: cannot insert %s: %v", e.network, err)
		}
	}

	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("geotest: %v", err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		_ = f.Close()
		t.Fatalf("geotest: cannot write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("geotest: %v", err)
	}
}

func parseNetwork(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

func names(s string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(s)}
}

// record builds a record shaped like MaxMind's City or Country records.
func record(r geo.Region, countryOnly bool) mmdbtype.Map {
	m := mmdbtype.Map{}
	if r.Country == "" {
		return m
	}
	country := mmdbtype.Map{
		"geoname_id": mmdbtype.Uint32(2921044),
		"iso_code":   mmdbtype.String(r.Country),
		"names":      names("Country " + r.Country),
	}
	m["continent"] = mmdbtype.Map{
		"code":       mmdbtype.String("EU"),
		"geoname_id": mmdbtype.Uint32(6255148),
		"names":      names("Europe"),
	}
	m["country"] = country
	m["registered_country"] = country
	if countryOnly {
		return m
	}
	m["city"] = mmdbtype.Map{
		"geoname_id": mmdbtype.Uint32(2867714),
		"names":      names(CityName),
	}
	m["postal"] = mmdbtype.Map{"code": mmdbtype.String(PostalCode)}
	m["location"] = mmdbtype.Map{
		"accuracy_radius": mmdbtype.Uint16(20),
		"latitude":        mmdbtype.Float64(Latitude),
		"longitude":       mmdbtype.Float64(Longitude),
		"time_zone":       mmdbtype.String(TimeZone),
	}
	if sub, ok := strings.CutPrefix(r.Subdivision, r.Country+"-"); ok && r.Subdivision != "" {
		m["subdivisions"] = mmdbtype.Slice{
			mmdbtype.Map{
				"geoname_id": mmdbtype.Uint32(2951839),
				"iso_code":   mmdbtype.String(sub),
				"names":      names("Subdivision " + r.Subdivision),
			},
			mmdbtype.Map{
				"geoname_id": mmdbtype.Uint32(3220838),
				"iso_code":   mmdbtype.String(SecondSubdivisionISOCode),
				"names":      names("Second subdivision"),
			},
		}
	}
	return m
}
