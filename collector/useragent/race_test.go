//go:build race

package useragent

// raceEnabled lets the corpus tests sample under the race detector, which
// makes every regexp call 20-50 times slower.
const raceEnabled = true
