//go:build !race

package main

// raceEnabled: the race detector multiplies memory, so memory bounds are
// only asserted without it.
const raceEnabled = false
