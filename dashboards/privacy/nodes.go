package privacy

import (
	"encoding/binary"
	"time"

	"tally/dashboards/stats"
)

// node is one piece of a range: a dyadic block of whole local days (level
// l, index i: days i<<l to (i+1)<<l), or part of one local day (hours from
// and to after the day's start). Every range, series bucket and campaign
// window is cut into the same canonical nodes, and each node of each
// counted value has one fixed noise: any answer is a sum of fixed noisy
// nodes, so asking again, or asking a different range with the same
// difference, gives nothing new to average.
type node struct {
	partial  bool
	level    uint8
	index    int64 // dyadic block index, or the day of a partial node
	from, to uint8 // hours of a partial node
}

func (n node) appendTo(b []byte) []byte {
	if n.partial {
		b = append(b, 'p', n.from, n.to)
	} else {
		b = append(b, 'd', n.level)
	}
	return binary.BigEndian.AppendUint64(b, uint64(n.index))
}

// day is a local calendar day as a count of days since 1970-01-01.
type day int64

func dayOf(t time.Time, loc *time.Location) day {
	l := t.In(loc)
	return day(time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// start is the UTC hour a local day starts in: its midnight, rounded down
// to the hour as ranges are (zones with half-hour offsets).
func (d day) start(loc *time.Location) time.Time {
	return d.midnight(loc).UTC().Truncate(time.Hour)
}

// midnight is the local day's midnight, in loc.
func (d day) midnight(loc *time.Location) time.Time {
	u := time.Unix(int64(d)*86400, 0).UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, loc)
}

// containing is the local day whose hours hold t.
func containing(t time.Time, loc *time.Location) day {
	d := dayOf(t, loc)
	for t.Before(d.start(loc)) {
		d--
	}
	for !t.Before((d + 1).start(loc)) {
		d++
	}
	return d
}

// decompose cuts r into nodes: a partial head day, whole days as dyadic
// blocks (at most two per level), a partial tail day.
func decompose(r stats.Range, loc *time.Location) []node {
	if loc == nil {
		loc = time.UTC
	}
	var out []node
	s, e := r.Start, r.End
	if !e.After(s) {
		return nil
	}
	d := containing(s, loc)
	if ds := d.start(loc); s.After(ds) {
		end := min64(e, (d + 1).start(loc))
		out = append(out, partialNode(d, ds, s, end))
		if !e.After((d + 1).start(loc)) {
			return out
		}
		d++
	}
	first := d
	for !e.Before((d + 1).start(loc)) {
		d++
	}
	out = appendDyadic(out, int64(first), int64(d))
	if ds := d.start(loc); e.After(ds) {
		out = append(out, partialNode(d, ds, ds, e))
	}
	return out
}

func min64(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func partialNode(d day, dayStart, from, to time.Time) node {
	return node{partial: true, index: int64(d),
		from: uint8(from.Sub(dayStart) / time.Hour), to: uint8(to.Sub(dayStart) / time.Hour)}
}

// appendDyadic adds the canonical dyadic blocks covering days [a, b).
func appendDyadic(out []node, a, b int64) []node {
	for a < b {
		l := uint8(0)
		for l < 62 && a&(1<<(l+1)-1) == 0 && a+1<<(l+1) <= b {
			l++
		}
		out = append(out, node{level: l, index: a >> l})
		a += 1 << l
	}
	return out
}
