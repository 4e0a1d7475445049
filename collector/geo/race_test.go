//go:build race

package geo_test

const raceEnabled = true
