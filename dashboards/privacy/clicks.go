package privacy

import (
	"time"

	"tally/counter"
	"tally/dashboards/stats"
)

// An email row's counts fall in three groups, each released on its own:
// opens (Opens, UniqueOpens, ImpliedOpens; k counts OpenMeasure), clicks
// (Clicks, UniqueClicks; ClickMeasure) and machine activity
// (MachineOpens, MachineClicks; MachineMeasure). A group below k, exact
// or noisy, is zeroed and flagged (BelowK, ClicksBelowK, MachineBelowK),
// so that "3 clicks" never shows next to "120 opens".

// clickThing is the thing of a row's click draws: the opens' draws stay
// what they were before clicks were counted, so no shown count moved.
func clickThing(thing []byte) []byte {
	out := make([]byte, len(thing))
	copy(out, thing)
	out[0] = 'k'
	return out
}

// groups releases each group of c over ns: exact or with its fixed noise,
// withheld below k. Sent is the sender's report and is never withheld.
func (p Policy) groups(thing []byte, ns []node, c stats.EmailCounts) stats.EmailCounts {
	if p.K <= 0 {
		return c
	}
	k := int64(p.K)
	var nz, nc [4]float64
	if p.Noise != nil {
		nz = p.Noise.sum(thing, ns, p.K)
		nc = p.Noise.sum(clickThing(thing), ns, p.K)
	}
	out := stats.EmailCounts{Sent: c.Sent}
	// Opens, with the draws email used before clicks existed.
	out.Opens, out.UniqueOpens = noisy(c.Opens, nz[1]), noisy(c.UniqueOpens, nz[2])
	out.ImpliedOpens = min(noisy(c.ImpliedOpens, nc[3]), out.UniqueOpens)
	mv := out.UniqueOpens
	if c.UniqueOpens <= 0 {
		mv = out.Opens
	}
	if c.OpenMeasure() < k || mv < k {
		out.Opens, out.UniqueOpens, out.ImpliedOpens, out.BelowK = 0, 0, 0, true
	}
	out.Clicks, out.UniqueClicks = noisy(c.Clicks, nc[0]), noisy(c.UniqueClicks, nc[1])
	mv = out.UniqueClicks
	if c.UniqueClicks <= 0 {
		mv = out.Clicks
	}
	if c.ClickMeasure() < k || mv < k {
		out.Clicks, out.UniqueClicks, out.ClicksBelowK = 0, 0, true
	}
	out.MachineOpens, out.MachineClicks = noisy(c.MachineOpens, nz[3]), noisy(c.MachineClicks, nc[2])
	if c.MachineMeasure() < k || out.MachineMeasure() < k {
		out.MachineOpens, out.MachineClicks, out.MachineBelowK = 0, 0, true
	}
	return out
}

// emailRow releases one breakdown row of dimension dim: listed (ok) only
// when the dimension's measure (stats.EmailMeasure) reaches k, exact and
// noisy, and then each group as groups does.
func (p Policy) emailRow(dim string, thing []byte, ns []node, c stats.EmailCounts) (stats.EmailCounts, bool) {
	if p.K <= 0 {
		return c, true
	}
	if stats.EmailMeasure(dim, c) < int64(p.K) {
		return stats.EmailCounts{}, false
	}
	out := p.groups(thing, ns, c)
	if stats.EmailMeasure(dim, out) < int64(p.K) {
		return stats.EmailCounts{}, false
	}
	return out, true
}

// releasedRates are the rates of released counts, 0 wherever a group they
// divide is withheld.
func releasedRates(c stats.EmailCounts) (open float64, r stats.Rates) {
	r = c.Rates()
	if c.BelowK {
		r.ClickToOpenRate, r.MachineOpenShare = 0, 0
	} else {
		open = c.OpenRate()
	}
	if c.ClicksBelowK {
		r.ClickRate, r.ClickToOpenRate, r.MachineClickShare = 0, 0, 0
	}
	if c.MachineBelowK {
		r.MachineOpenShare, r.MachineClickShare = 0, 0
	}
	return open, r
}

// FirstHours is the length of a campaign's early curve.
const FirstHours = 72

// CampaignFirstHours releases a campaign's cumulative counts over its
// first hours: hourly are the exact counts of each hour from start (the
// hour of the first send), and point i holds everything up to the end of
// hour i. Each group moves in steps: a point shows a group's new total
// only when it grew by k or more since the last one shown (exact and
// noisy, over the range from start), and otherwise repeats that one, so
// that two points never differ by a withheld count. A campaign withheld
// as a whole (c.BelowK) shows its sends only.
func (p Policy) CampaignFirstHours(c stats.Campaign, hourly []stats.EmailPoint, start time.Time) []stats.EmailPoint {
	out := make([]stats.EmailPoint, len(hourly))
	th := p.thing('e', c.Name, counter.DimTotal, "")
	var cum stats.EmailCounts
	shown := stats.EmailCounts{BelowK: true, ClicksBelowK: true, MachineBelowK: true}
	var last [3]int64 // exact measures of the groups at their last step
	k := int64(p.K)
	for i, pt := range hourly {
		cum.Add(pt.EmailCounts)
		out[i].Start = pt.Start
		switch {
		case p.K <= 0:
			out[i].EmailCounts = cum
			continue
		case c.BelowK:
			out[i].EmailCounts = stats.EmailCounts{Sent: cum.Sent, BelowK: true, ClicksBelowK: true, MachineBelowK: true}
			continue
		}
		rel := p.groups(th, p.nodes(stats.Range{Start: start, End: pt.Start.Add(time.Hour)}), cum)
		if m := cum.OpenMeasure(); !rel.BelowK && m-last[0] >= k {
			shown.Opens, shown.UniqueOpens, shown.ImpliedOpens, shown.BelowK, last[0] = rel.Opens, rel.UniqueOpens, rel.ImpliedOpens, false, m
		}
		if m := cum.ClickMeasure(); !rel.ClicksBelowK && m-last[1] >= k {
			shown.Clicks, shown.UniqueClicks, shown.ClicksBelowK, last[1] = rel.Clicks, rel.UniqueClicks, false, m
		}
		if m := cum.MachineMeasure(); !rel.MachineBelowK && m-last[2] >= k {
			shown.MachineOpens, shown.MachineClicks, shown.MachineBelowK, last[2] = rel.MachineOpens, rel.MachineClicks, false, m
		}
		shown.Sent = cum.Sent
		out[i].EmailCounts = shown
	}
	return out
}
