package geo

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Region is the coarsest useful location of a client: a country and its
// first-level subdivision. It is all this package ever returns.
type Region struct {
	Country     string // ISO 3166-1 alpha-2, e.g. "DE"; "" when unknown
	Subdivision string // full ISO 3166-2 code, e.g. "DE-BY" (country + "-" + first subdivision iso_code); "" when unknown
}

// ErrUnsupportedDatabase is wrapped by Open when the file is a valid MaxMind
// DB whose type holds no country data (an ASN or anonymous-IP database, for
// instance).
var ErrUnsupportedDatabase = errors.New("not a GeoIP2/GeoLite2 City or Country database")

// databaseKinds maps the metadata database_type of the formats we can read to
// whether their records carry subdivisions. It follows the City and Country
// types that github.com/oschwald/geoip2-golang/v2 accepts for City lookups.
var databaseKinds = map[string]bool{
	// City format: country and subdivisions.
	"GeoLite2-City":                         true,
	"GeoIP2-City":                           true,
	"GeoIP2-City-Africa":                    true,
	"GeoIP2-City-Asia-Pacific":              true,
	"GeoIP2-City-Europe":                    true,
	"GeoIP2-City-North-America":             true,
	"GeoIP2-City-South-America":             true,
	"GeoIP2-Precision-City":                 true,
	"GeoIP-City-Redacted-US":                true,
	"GeoIP2-Enterprise":                     true,
	"GeoIP-Enterprise-Redacted-US":          true,
	"DBIP-City-Lite":                        true,
	"DBIP-Location (compat=City)":           true,
	"DBIP-ISP (compat=Enterprise)":          true,
	"DBIP-Location-ISP (compat=Enterprise)": true,
	// Country format: no subdivisions.
	"GeoLite2-Country":  false,
	"GeoIP2-Country":    false,
	"DBIP-Country-Lite": false,
	"DBIP-Country":      false,
}

// Locator answers Region lookups from one database. It is safe for
// concurrent use. The zero value and the Locator that Open("") returns know
// no database and answer Region{} to every lookup.
type Locator struct {
	db              *maxminddb.Reader // nil without a database
	hasSubdivisions bool              // decided once from the database type
	codes           subdivisionCodes
	regions         regionCache // see cache.go
}

// Open opens the MaxMind DB at path. An empty path is not an error: it gives
// a Locator that always answers Region{}, so the collector runs without geo
// data. A file that cannot be read, is not a MaxMind DB, or holds no country
// data is an error.
func Open(path string) (*Locator, error) {
	if path == "" {
		return &Locator{}, nil
	}
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open geo database %q: %w", path, err)
	}
	dbType := db.Metadata.DatabaseType
	hasSubdivisions, ok := databaseKinds[dbType]
	if !ok {
		_ = db.Close()
		return nil, fmt.Errorf("cannot use geo database %q of type %q: %w", path, dbType, ErrUnsupportedDatabase)
	}
	return &Locator{db: db, hasSubdivisions: hasSubdivisions}, nil
}

// Lookup returns the region of ip. It never fails: an invalid address, an
// address the database does not know, and a lookup or decoding failure all
// give Region{}, and a subdivision is only reported together with its
// country. IPv4-mapped IPv6 addresses are looked up as IPv4.
//
// Only the two codes are decoded from the record (with DecodePath), which is
// what keeps a lookup free of allocations apart from the first time a
// subdivision code is seen.
func (l *Locator) Lookup(ip netip.Addr) Region {
	if l == nil || l.db == nil || !ip.IsValid() {
		return Region{}
	}
	res := l.db.Lookup(ip.Unmap())
	if !res.Found() {
		return Region{}
	}
	if r, ok := l.regions.get(res.Offset()); ok {
		return r
	}
	r := l.read(res)
	l.regions.put(res.Offset(), r)
	return r
}

// read reads the region out of a record.
func (l *Locator) read(res maxminddb.Result) Region {
	// The destinations are pooled because DecodePath takes them as any,
	// which would otherwise move them to the heap on every call.
	codes := codesPool.Get().(*isoCodes)
	defer codesPool.Put(codes)
	*codes = isoCodes{}
	if res.DecodePath(&codes.country, "country", "iso_code") != nil || !isCountryCode(codes.country) {
		return Region{}
	}
	r := Region{Country: codes.country}
	if l.hasSubdivisions &&
		res.DecodePath(&codes.subdivision, "subdivisions", 0, "iso_code") == nil &&
		isSubdivisionCode(codes.subdivision) {
		r.Subdivision = l.codes.join(codes.country, codes.subdivision)
	}
	return r
}

// Close releases the database. Lookup must not be called during or after
// Close. Closing a Locator without a database, or closing twice, is a no-op.
func (l *Locator) Close() error {
	if l == nil || l.db == nil {
		return nil
	}
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("cannot close geo database: %w", err)
	}
	return nil
}

type isoCodes struct{ country, subdivision string }

var codesPool = sync.Pool{New: func() any { return new(isoCodes) }}

// isCountryCode reports whether s looks like an ISO 3166-1 alpha-2 code.
// Anything else in the database is treated as unknown.
func isCountryCode(s string) bool {
	return len(s) == 2 && isUpper(s[0]) && isUpper(s[1])
}

// isSubdivisionCode reports whether s looks like the part of an ISO 3166-2
// code after the dash: one to three upper-case letters or digits.
func isSubdivisionCode(s string) bool {
	if len(s) == 0 || len(s) > 3 {
		return false
	}
	for i := range len(s) {
		if !isUpperAlnum(s[i]) {
			return false
		}
	}
	return true
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

func isUpperAlnum(c byte) bool { return isUpper(c) || '0' <= c && c <= '9' }

// subdivisionCodes remembers recently built "CC-SUB" strings so a lookup
// that finds a subdivision does not allocate the joined code every time.
// It is a small direct-mapped cache: a collision just builds the string
// again. The database's own string cache makes the parts cheap already.
type subdivisionCodes struct {
	seed    maphash.Seed
	init    sync.Once
	entries [1024]atomic.Pointer[subdivisionCode]
}

type subdivisionCode struct{ country, subdivision, code string }

func (c *subdivisionCodes) join(country, subdivision string) string {
	c.init.Do(func() { c.seed = maphash.MakeSeed() })
	h := maphash.Comparable(c.seed, [2]string{country, subdivision})
	slot := &c.entries[h%uint64(len(c.entries))]
	if e := slot.Load(); e != nil && e.country == country && e.subdivision == subdivision {
		return e.code
	}
	code := country + "-" + subdivision
	slot.Store(&subdivisionCode{country: country, subdivision: subdivision, code: code})
	return code
}
