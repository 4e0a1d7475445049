package privacy

import (
	"testing"
	"time"

	"tally/dashboards/stats"
)

func TestDecompose(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	for _, loc := range []*time.Location{time.UTC, berlin, kolkata} {
		day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, loc)
		at := func(days, hours int) time.Time {
			return day0.AddDate(0, 0, days).UTC().Truncate(time.Hour).Add(time.Duration(hours) * time.Hour)
		}
		// Whole days: at most two blocks per level, and they tile the days.
		for a := 0; a < 40; a++ {
			for b := a + 1; b < 41; b++ {
				ns := decompose(stats.Range{Start: at(a, 0), End: at(b, 0)}, loc)
				var days int64
				for _, n := range ns {
					if n.partial {
						t.Fatalf("%v: whole days %d-%d gave a partial node %+v", loc, a, b, n)
					}
					days += 1 << n.level
				}
				if days != int64(b-a) || len(ns) > 2*6 {
					t.Fatalf("%v: days %d-%d: %d nodes covering %d days", loc, a, b, len(ns), days)
				}
			}
		}
		// Today until 14:00 is a partial node; its identity changes with the hour.
		ns := decompose(stats.Range{Start: at(3, 0), End: at(3, 14)}, loc)
		if len(ns) != 1 || !ns[0].partial || ns[0].from != 0 || ns[0].to != 14 {
			t.Fatalf("%v: today: %+v", loc, ns)
		}
		// A seven-day range ending now: six whole days and a partial one.
		ns = decompose(stats.Range{Start: at(0, 0), End: at(6, 5)}, loc)
		if last := ns[len(ns)-1]; !last.partial || last.to != 5 {
			t.Fatalf("%v: 7d: %+v", loc, ns)
		}
		// An hour bucket in the middle of a day.
		ns = decompose(stats.Range{Start: at(2, 7), End: at(2, 8)}, loc)
		if len(ns) != 1 || !ns[0].partial || ns[0].from != 7 || ns[0].to != 8 {
			t.Fatalf("%v: hour: %+v", loc, ns)
		}
		// The same whole day is the same leaf however it is reached.
		leaf := decompose(stats.Range{Start: at(5, 0), End: at(6, 0)}, loc)
		wide := decompose(stats.Range{Start: at(5, 0), End: at(6, 3)}, loc)
		if leaf[0] != wide[0] {
			t.Fatalf("%v: day 5 is %+v alone and %+v in a wider range", loc, leaf[0], wide[0])
		}
	}
}
