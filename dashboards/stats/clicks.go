package stats

import "tally/counter"

// emailSums are the summed email counters in EmailCounts.dest order;
// emailSumsAs the same, named for a grouped subquery.
const (
	emailSums   = "sum(sent), sum(opens), sum(unique_opens), sum(machine_opens), sum(clicks), sum(unique_clicks), sum(machine_clicks), sum(implied_opens)"
	emailSumsAs = "sum(sent) AS s, sum(opens) AS o, sum(unique_opens) AS u, sum(machine_opens) AS m, " +
		"sum(clicks) AS cl, sum(unique_clicks) AS uc, sum(machine_clicks) AS mc, sum(implied_opens) AS io"
)

// dest is where a row of emailSums scans into.
func (c *EmailCounts) dest() []any {
	return []any{&c.Sent, &c.Opens, &c.UniqueOpens, &c.MachineOpens, &c.Clicks, &c.UniqueClicks, &c.MachineClicks, &c.ImpliedOpens}
}

// ClickMeasure is what k counts of clicks: unique clicks, or clicks where
// no unique click was recorded (links without a recipient token).
func (c EmailCounts) ClickMeasure() int64 {
	if c.UniqueClicks > 0 {
		return c.UniqueClicks
	}
	return c.Clicks
}

// MachineMeasure is what k counts of machine activity: machine opens and
// clicks (each stands for a message delivered to one recipient).
func (c EmailCounts) MachineMeasure() int64 { return c.MachineOpens + c.MachineClicks }

// EmailMeasure is what k counts, and ranks, in a row of dimension dim:
// clicks in link rows, machine activity in machine rows, and elsewhere
// the larger of the people who opened and who clicked.
func EmailMeasure(dim string, c EmailCounts) int64 {
	switch dim {
	case counter.DimLink:
		return c.ClickMeasure()
	case counter.DimMachine:
		return c.MachineMeasure()
	}
	return max(c.OpenMeasure(), c.ClickMeasure())
}

// EmailMeasureSQL is EmailMeasure over the columns of emailSumsAs.
func EmailMeasureSQL(dim string) string {
	const opens, clicks = "if(u > 0, u, o)", "if(uc > 0, uc, cl)"
	switch dim {
	case counter.DimLink:
		return clicks
	case counter.DimMachine:
		return "(m + mc)"
	}
	return "greatest(" + opens + ", " + clicks + ")"
}

// Rates are a campaign's rates from people's activity, with the machines'
// share next to them.
type Rates struct {
	// ClickRate is unique clicks per email sent.
	ClickRate float64 `json:"click_rate"`
	// ClickToOpenRate is unique clicks per unique open.
	ClickToOpenRate float64 `json:"click_to_open_rate"`
	// MachineOpenShare and MachineClickShare are the machines' part of
	// all opens and of all clicks.
	MachineOpenShare  float64 `json:"machine_open_share"`
	MachineClickShare float64 `json:"machine_click_share"`
}

// SetRates computes the campaign's open rate and Rates from its counts.
func (c *Campaign) SetRates() {
	c.OpenRate = c.EmailCounts.OpenRate()
	c.Rates = c.EmailCounts.Rates()
}

// Rates computes the rates of c (0 where a divisor is 0).
func (c EmailCounts) Rates() Rates {
	ratio := func(a, b int64) float64 {
		if b <= 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	return Rates{
		ClickRate:         ratio(c.UniqueClicks, c.Sent),
		ClickToOpenRate:   ratio(c.UniqueClicks, c.UniqueOpens),
		MachineOpenShare:  ratio(c.MachineOpens, c.Opens+c.MachineOpens),
		MachineClickShare: ratio(c.MachineClicks, c.Clicks+c.MachineClicks),
	}
}
