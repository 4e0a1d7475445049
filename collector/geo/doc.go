// Package geo owns the translation of a client IP address into a coarse
// region: the country (ISO 3166-1 alpha-2) and the first-level subdivision
// (ISO 3166-2). Nothing finer ever leaves this package: no city, postal code,
// coordinates or ASN are decoded, let alone returned.
//
// The address is only read: it is not stored, logged, or put into an error
// or panic message. Lookup never returns an error at all, so a database
// failure cannot carry an address anywhere. The regions read from recent
// records are cached by record (cache.go), never by address: a cached
// lookup costs a third of one that reads the record (BenchmarkLookup,
// subdivision: 366 ns against 1,232 ns).
//
// Regions come from a MaxMind DB file in GeoIP2/GeoLite2 City or Country
// format (the DB-IP databases that share those formats work too). Running
// without a database is supported: every lookup then answers Region{}.
// Package geotest builds small databases for tests.
package geo
