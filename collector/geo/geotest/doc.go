// Package geotest owns the test fixtures of package geo: it writes small
// MaxMind DB files in GeoIP2 City and Country format, so that tests of geo and
// of the packages that use it run without a real GeoIP database.
//
// City records also carry a city name, postal code, coordinates and a second
// subdivision (the constants below), as real databases do, so a test can check
// that none of that finer data comes back from geo.Locator.
package geotest
