package dashboards

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// chartPoint is one bar (Bar) and one point of the line (Line).
type chartPoint struct {
	Label     string // x-axis label
	Title     string // hover text
	Bar, Line int64
}

// svgChart draws bars with a line over them, server-side, so the page needs
// no JavaScript. Its size is fixed by its viewBox and it scales to the width
// of its container; colours come from the page's CSS, for dark mode.
func svgChart(points []chartPoint, barName, lineName string) template.HTML {
	const w, h, left, bottom, top = 800.0, 240.0, 56.0, 24.0, 10.0
	var max int64 = 1
	for _, p := range points {
		max = maxInt(max, p.Bar, p.Line)
	}
	max = niceCeil(max)
	plotW, plotH := w-left-8, h-bottom-top
	y := func(v int64) float64 { return top + plotH - float64(v)/float64(max)*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s and %s over time" xmlns="http://www.w3.org/2000/svg">`,
		w, h, html.EscapeString(barName), html.EscapeString(lineName))
	for i := 0; i <= 4; i++ {
		v := max * int64(i) / 4
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f"/>`, left, w-8, y(v), y(v))
		fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.1f" text-anchor="end">%s</text>`, left-6, y(v)+4, formatInt(v))
	}
	n := len(points)
	if n > 0 {
		slot := plotW / float64(n)
		bw := slot * 0.7
		var line strings.Builder
		every := (n + 7) / 8
		for i, p := range points {
			x := left + float64(i)*slot
			fmt.Fprintf(&b, `<g><title>%s</title><rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`,
				html.EscapeString(p.Title), x+(slot-bw)/2, y(p.Bar), bw, top+plotH-y(p.Bar))
			fmt.Fprintf(&b, `<rect class="hover" x="%.1f" y="%.0f" width="%.1f" height="%.0f"/></g>`, x, top, slot, plotH)
			if i%every == 0 {
				fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x+slot/2, h-6, html.EscapeString(p.Label))
			}
			if i > 0 {
				line.WriteByte(' ')
			}
			fmt.Fprintf(&line, "%.1f,%.1f", x+slot/2, y(p.Line))
		}
		fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, line.String())
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every interpolated text is escaped above
}

func maxInt(m int64, vs ...int64) int64 {
	for _, v := range vs {
		if v > m {
			m = v
		}
	}
	return m
}

// niceCeil rounds up to a round number divisible by 4, so that the four grid
// lines get whole, round labels.
func niceCeil(v int64) int64 {
	if v <= 4 {
		return 4
	}
	p := int64(1)
	for p*10 < v {
		p *= 10
	}
	for _, m := range []int64{2, 4, 8, 12, 20} {
		if p*m >= v {
			return p * m
		}
	}
	return p * 20
}
