package dashboards

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
	"time"

	"tally/counter"
	"tally/dashboards/privacy"
	"tally/dashboards/stats"
)

// What the campaign page, its CSVs and its JSON say about clicks and
// machines: the first hours' curve, the machine classes in words, links
// split into label and destination.

// FirstHours returns the campaign's cumulative counts hour by hour over
// its first privacy.FirstHours hours after its first reported send (up to
// now), as this viewer may see them; nil when no send was reported (rates
// need sends, and the first open's hour is not shown).
func (f figures) CampaignFirstHours(ctx context.Context, c campaign) ([]stats.EmailPoint, error) {
	if c.sent.IsZero() {
		return nil, nil
	}
	start := c.sent.UTC().Truncate(time.Hour)
	end := start.Add(privacy.FirstHours * time.Hour)
	if now := f.now.Truncate(time.Hour).Add(time.Hour); now.Before(end) {
		end = now
	}
	if !end.After(start) {
		return nil, nil
	}
	pts, err := f.q.CampaignSeries(ctx, f.site.Domain, c.Name, stats.Range{Start: start, End: end}, stats.Hourly, time.UTC)
	if err != nil {
		return nil, err
	}
	return f.pol.CampaignFirstHours(c.Campaign, pts, start), nil
}

// hourPoint is one hour of the first hours, as JSON and CSV give it: the
// hour after the first send it ends, the cumulative counts and the rates
// from people.
type hourPoint struct {
	Hour int `json:"hour"`
	stats.EmailCounts
	OpenRate  float64 `json:"open_rate"`
	ClickRate float64 `json:"click_rate"`
}

func firstHours(pts []stats.EmailPoint, sent int64) []hourPoint {
	out := make([]hourPoint, len(pts))
	for i, p := range pts {
		c := p.EmailCounts
		c.Sent = sent // the rates divide by every send of the campaign
		h := hourPoint{Hour: i + 1, EmailCounts: p.EmailCounts}
		if !c.BelowK {
			h.OpenRate = c.OpenRate()
		}
		if !c.ClicksBelowK {
			h.ClickRate = c.Rates().ClickRate
		}
		out[i] = h
	}
	return out
}

// rateChart draws the open and click rates over the first hours as two
// lines, server-side like svgChart; a rate not shown yet (below k) is not
// drawn.
func rateChart(pts []hourPoint) template.HTML {
	const w, h, left, bottom, top = 800.0, 240.0, 56.0, 24.0, 10.0
	top100 := 0.0
	for _, p := range pts {
		top100 = max(top100, p.OpenRate, p.ClickRate)
	}
	ceil := 0.05
	for ceil < top100 {
		ceil *= 2
	}
	plotW, plotH := w-left-8, h-bottom-top
	y := func(v float64) float64 { return top + plotH - v/ceil*plotH }
	x := func(i int) float64 { return left + plotW*float64(i+1)/float64(privacy.FirstHours) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart rates" viewBox="0 0 %.0f %.0f" role="img" aria-label="open rate and click rate over the first %d hours after sending" xmlns="http://www.w3.org/2000/svg">`,
		w, h, privacy.FirstHours)
	for i := 0; i <= 4; i++ {
		v := ceil * float64(i) / 4
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f"/>`, left, w-8, y(v), y(v))
		fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.1f" text-anchor="end">%s</text>`, left-6, y(v)+4, html.EscapeString(formatPct(v)))
	}
	for hr := 0; hr <= privacy.FirstHours; hr += 12 {
		anchor := "middle"
		if hr == privacy.FirstHours {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="%s">%dh</text>`, left+plotW*float64(hr)/float64(privacy.FirstHours), h-6, anchor, hr)
	}
	line := func(class string, rate func(hourPoint) (float64, bool)) {
		var pts2 []string
		for i, p := range pts {
			if v, ok := rate(p); ok {
				pts2 = append(pts2, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			}
		}
		if len(pts2) > 0 {
			fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, class, strings.Join(pts2, " "))
		}
	}
	line("line", func(p hourPoint) (float64, bool) { return p.OpenRate, !p.BelowK })
	line("line2", func(p hourPoint) (float64, bool) { return p.ClickRate, !p.ClicksBelowK })
	for i, p := range pts {
		title := fmt.Sprintf("%dh after sending: ", p.Hour)
		if p.BelowK {
			title += "opens below the privacy threshold"
		} else {
			title += "open rate " + formatPct(p.OpenRate)
		}
		if p.ClicksBelowK {
			title += ", clicks below the privacy threshold"
		} else {
			title += ", click rate " + formatPct(p.ClickRate)
		}
		fmt.Fprintf(&b, `<g><title>%s</title><rect class="hover" x="%.1f" y="%.0f" width="%.1f" height="%.0f"/></g>`,
			html.EscapeString(title), x(i)-plotW/float64(privacy.FirstHours), top, plotW/float64(privacy.FirstHours), plotH)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every interpolated text is escaped above
}

// machineClass explains one machine class on the campaign page.
type machineClass struct {
	Title, Explain string
	Opens, Clicks  bool // what the class does
}

// machineClasses are the words for counter's machine classes.
var machineClasses = map[string]machineClass{
	counter.MachineApplePrivacy: {"Apple Mail Privacy Protection",
		"Apple's proxies load every image of every message on delivery, whether it is read or not. Recognised by the agent Apple's proxies send (Apple publishes no list of their addresses).", true, false},
	counter.MachineGmailPrefetch: {"Gmail delivery prefetch",
		"Gmail loads the images of a message that arrives while its recipient has Gmail open, before anyone opens it. Gmail's image proxy, which loads images when a person opens the message, counts as a person (\"Gmail (via proxy)\").", true, false},
	counter.MachineScannerAgent: {"Security scanners and bots",
		"Mail security gateways and link checkers that name themselves in their agent (Barracuda, Proofpoint, Mimecast, Microsoft's link checks…), or send none, and other known bots.", true, true},
	counter.MachineHead: {"Link checks (HEAD)",
		"A HEAD request asks where a link leads without following it: a checker, never a browser.", false, true},
	counter.MachinePrefetch: {"Prefetches",
		"A speculative load of a link, made before anyone clicks it (or whether or not they do).", false, true},
	counter.MachineBurst: {"Scanner bursts",
		"Three different links of one message (both, in a message of two) followed for one recipient within seconds: scanners follow every link at delivery, people one or two.", false, true},
	counter.MachineHoneypot: {"Honeypot link",
		"The hidden link of the message that no person can see: whatever follows it, and the recipient's other links followed in the same seconds, is a machine.", false, true},
}

// machineLabel is a machine class in words.
func machineLabel(class string) string {
	if m, ok := machineClasses[class]; ok {
		return m.Title
	}
	return class
}

// classView is one explained class, with its released counts when listed.
type classView struct {
	machineClass
	Name   string
	Counts *stats.EmailCounts
}

// machineExplained lists every class in counter's order, with the counts
// of those the breakdown lists.
func machineExplained(b stats.EmailBreakdown) []classView {
	counts := map[string]*stats.EmailCounts{}
	for i := range b.Rows {
		counts[b.Rows[i].Value] = &b.Rows[i].EmailCounts
	}
	out := make([]classView, 0, len(counter.MachineClasses))
	for _, name := range counter.MachineClasses {
		out = append(out, classView{machineClass: machineClasses[name], Name: name, Counts: counts[name]})
	}
	return out
}

// linkLabel shows a link row as "label → host/path".
func linkLabel(v string) string {
	label, target := counter.SplitLink(v)
	if target == "" {
		return label
	}
	return label + " → " + target
}

// hoursCSV is the first hours as CSV.
func hoursCSV(pts []hourPoint) [][]string {
	rows := [][]string{{"hour", "sent", "opens", "unique_opens", "implied_opens", "clicks", "unique_clicks", "machine_opens", "machine_clicks", "open_rate", "click_rate", "opens_below_k", "clicks_below_k", "machine_below_k"}}
	for _, p := range pts {
		rows = append(rows, []string{strconv.Itoa(p.Hour), i64(p.Sent), i64(p.Opens), i64(p.UniqueOpens), i64(p.ImpliedOpens), i64(p.Clicks),
			i64(p.UniqueClicks), i64(p.MachineOpens), i64(p.MachineClicks), rate(p.OpenRate), rate(p.ClickRate),
			strconv.FormatBool(p.BelowK), strconv.FormatBool(p.ClicksBelowK), strconv.FormatBool(p.MachineBelowK)})
	}
	return rows
}

// summaryCSV is the campaign's totals and rates as CSV, one row.
func summaryCSV(c stats.Campaign) [][]string {
	return [][]string{
		{"campaign", "first_day", "sent", "opens", "unique_opens", "implied_opens", "machine_opens", "clicks", "unique_clicks", "machine_clicks",
			"open_rate", "click_rate", "click_to_open_rate", "machine_open_share", "machine_click_share", "opens_below_k", "clicks_below_k", "machine_below_k"},
		{cell(c.Name), c.First.Format(time.DateOnly), i64(c.Sent), i64(c.Opens), i64(c.UniqueOpens), i64(c.ImpliedOpens), i64(c.MachineOpens),
			i64(c.Clicks), i64(c.UniqueClicks), i64(c.MachineClicks), rate(c.OpenRate), rate(c.ClickRate), rate(c.ClickToOpenRate),
			rate(c.MachineOpenShare), rate(c.MachineClickShare), strconv.FormatBool(c.BelowK), strconv.FormatBool(c.ClicksBelowK), strconv.FormatBool(c.MachineBelowK)},
	}
}

func rate(r float64) string { return strconv.FormatFloat(r, 'f', 4, 64) }
