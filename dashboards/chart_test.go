package dashboards

import (
	"strings"
	"testing"
)

func TestNiceCeil(t *testing.T) {
	for _, v := range []int64{1, 4, 5, 9, 11, 99, 101, 41667, 1_000_000} {
		c := niceCeil(v)
		if c < v || c%4 != 0 {
			t.Errorf("niceCeil(%d) = %d", v, c)
		}
	}
}

func TestSVGChartEscapes(t *testing.T) {
	svg := string(svgChart([]chartPoint{{Label: "<b>", Title: `"x" & y`, Bar: 3, Line: 1}}, "Page views", "Visitors"))
	if strings.Contains(svg, "<b>") || !strings.Contains(svg, "&lt;b&gt;") || !strings.Contains(svg, "&amp; y") {
		t.Fatalf("unescaped text in %s", svg)
	}
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "<polyline") {
		t.Fatalf("not a chart: %s", svg)
	}
	empty := string(svgChart(nil, "a", "b"))
	if !strings.HasSuffix(empty, "</svg>") {
		t.Fatalf("empty chart: %s", empty)
	}
}
