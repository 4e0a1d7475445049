package uabench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// uapSampleStep: uap-go costs about 1ms a header uncached, so on the 165k
// device headers it is run on every 9th (about 18,400), which keeps the
// report near one minute on 2 cores. Its denominators in the tables show it.
const uapSampleStep = 9

// TestAccuracyReport prints the accuracy tables that RESULTS.md quotes. It
// fails only if the corpus or a library cannot be loaded: the figures are
// for people to judge, not thresholds. Run with -v to see them.
func TestAccuracyReport(t *testing.T) {
	if testing.Short() {
		t.Skip("the report classifies ~170k headers with regex libraries; skipped in -short")
	}
	l, err := newLibs()
	if err != nil {
		t.Fatal(err)
	}
	c := loadCorpus(t)
	start := time.Now()
	humanUAs := make([]string, len(humans))
	for i, h := range humans {
		humanUAs[i] = h.ua
	}
	sets := []evalSet{
		{name: "crawlers.txt", uas: c.crawlers, isBots: true},
		{name: "labelled bots", uas: bots, isBots: true},
		{name: "devices.txt", uas: c.devices, isBots: false, uapStep: uapSampleStep},
		{name: "labelled humans", uas: humanUAs, isBots: false},
	}
	for i := range sets {
		sets[i].rows = l.evaluate(sets[i].uas, sets[i].uapStep)
	}
	w := os.Stdout
	reportLabelled(w, l, sets[3].rows)
	reportCoverage(w, l, sets[2])
	reportBots(w, sets)
	fmt.Fprintf(w, "\nreport took %s\n", time.Since(start).Round(time.Second))
}

// evalSet is one corpus with every library's answer for each header.
type evalSet struct {
	name    string
	uas     []string
	isBots  bool
	uapStep int // run uap-go on every uapStep-th header only; 0 or 1: all
	rows    []row
}

// row holds every library's answer for one header, computed once.
type row struct {
	res    []result // index as l.parsers()
	hasUAP bool
	cd     bool // crawlerdetect
	tok    bool // collector/useragent's automation tokens
}

func (l *libs) evaluate(uas []string, uapStep int) []row {
	ps := l.parsers()
	uapIdx := len(ps) - 1
	rows := make([]row, len(uas))
	parallelFor(len(uas), func(j int) {
		r := row{res: make([]result, len(ps))}
		r.hasUAP = uapStep <= 1 || j%uapStep == 0
		for i, p := range ps {
			if i == uapIdx && !r.hasUAP {
				continue
			}
			r.res[i] = p.parse(uas[j])
		}
		r.cd = l.cd.IsCrawler(uas[j])
		r.tok = hasAutomationToken(uas[j])
		rows[j] = r
	})
	return rows
}

// detectors derive each bot verdict from a row, in the order of
// libs.botDetectors.
func detectors() []struct {
	name  string
	isBot func(r row) (verdict, known bool)
} {
	const med, mil, uap = 0, 2, 3
	return []struct {
		name  string
		isBot func(r row) (bool, bool)
	}{
		{"crawlerdetect", func(r row) (bool, bool) { return r.cd, true }},
		{"medama IsBot", func(r row) (bool, bool) { return r.res[med].Bot, true }},
		{"medama OR crawlerdetect", func(r row) (bool, bool) { return r.res[med].Bot || r.cd, true }},
		{"mileusna Bot", func(r row) (bool, bool) { return r.res[mil].Bot, true }},
		{"uap-go Spider", func(r row) (bool, bool) { return r.res[uap].Bot, r.hasUAP }},
		{"collector/useragent", func(r row) (bool, bool) { return r.res[med].Bot || r.tok || r.cd, true }},
	}
}

// parallelFor runs f(i) for i in [0, n) on every core.
func parallelFor(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				f(i)
			}
		})
	}
	wg.Wait()
}

// matches reports whether got is one of the "|"-separated answers in want.
func matches(want, got string) bool {
	for _, alt := range strings.Split(want, "|") {
		if alt == got {
			return true
		}
	}
	return false
}

func pct(n, of int) string {
	if of == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%d/%d (%.2f%%)", n, of, 100*float64(n)/float64(of))
}

func short(ua string) string {
	if len(ua) > 110 {
		return ua[:107] + "..."
	}
	return ua
}

func reportLabelled(w io.Writer, l *libs, rows []row) {
	fmt.Fprintf(w, "\n== Parsers on the labelled set (%d human headers, labelled_test.go) ==\n", len(humans))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "parser\tbrowser\tOS\tdevice\t")
	var misses []string
	for i, p := range l.parsers() {
		var bOK, bN, oOK, oN, dOK, dN int
		for j, h := range humans {
			r := rows[j].res[i]
			var wrong []string
			if h.browser != "" {
				bN++
				if matches(h.browser, r.Browser) {
					bOK++
				} else {
					wrong = append(wrong, fmt.Sprintf("browser %q want %q", r.Browser, h.browser))
				}
			}
			if h.os != "" {
				oN++
				if matches(h.os, r.OS) {
					oOK++
				} else {
					wrong = append(wrong, fmt.Sprintf("os %q want %q", r.OS, h.os))
				}
			}
			if h.device != "" && r.Device != "" {
				dN++
				if matches(h.device, r.Device) {
					dOK++
				} else {
					wrong = append(wrong, fmt.Sprintf("device %q want %q", r.Device, h.device))
				}
			}
			if len(wrong) > 0 {
				misses = append(misses, fmt.Sprintf("  %-19s %s\n      %s", p.name, strings.Join(wrong, "; "), short(h.ua)))
			}
		}
		dev := pct(dOK, dN)
		if dN == 0 {
			dev = "n/a (no device class)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", p.name, pct(bOK, bN), pct(oOK, oN), dev)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nmistakes:")
	for _, m := range misses {
		fmt.Fprintln(w, m)
	}
}

// reportCoverage covers crawlerdetect's device corpus, which has no labels:
// how often a parser names a known family at all, and how often the others
// agree with uap-go, the most thorough (and slowest) rule set.
func reportCoverage(w io.Writer, l *libs, s evalSet) {
	ps := l.parsers()
	uapIdx := len(ps) - 1
	fmt.Fprintf(w, "\n== Parsers on crawlerdetect devices.txt (%d human headers, unlabelled; uap-go on every %dth) ==\n", len(s.uas), s.uapStep)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "parser\tknown browser\tknown OS\tdevice class\tbrowser = uap-go\tOS = uap-go\tdevice (desktop/mobile/tablet/tv)\t")
	for i, p := range ps {
		var n, kb, ko, kd, ab, an, ao, aon int
		dc := map[string]int{}
		for _, r := range s.rows {
			if i == uapIdx && !r.hasUAP {
				continue
			}
			n++
			res := r.res[i]
			if res.Browser != "Other" {
				kb++
			}
			if res.OS != "Other" {
				ko++
			}
			if res.Device != "" && res.Device != "other" {
				kd++
			}
			dc[res.Device]++
			if !r.hasUAP {
				continue
			}
			u := r.res[uapIdx]
			if res.Browser != "Other" && u.Browser != "Other" {
				an++
				if res.Browser == u.Browser {
					ab++
				}
			}
			if res.OS != "Other" && u.OS != "Other" {
				aon++
				if res.OS == u.OS {
					ao++
				}
			}
		}
		dev, split := pct(kd, n), fmt.Sprintf("%d/%d/%d/%d", dc["desktop"], dc["mobile"], dc["tablet"], dc["tv"])
		if i == uapIdx {
			dev, split = "n/a", "n/a"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p.name, pct(kb, n), pct(ko, n), dev, pct(ab, an), pct(ao, aon), split)
	}
	tw.Flush()

	// The commonest disagreements say more than the rates.
	for i, p := range ps[:uapIdx] {
		counts := map[string]int{}
		for _, r := range s.rows {
			if !r.hasUAP {
				continue
			}
			a, u := r.res[i].Browser, r.res[uapIdx].Browser
			if a != "Other" && u != "Other" && a != u {
				counts[fmt.Sprintf("%s says %q, uap-go %q", p.name, a, u)]++
			}
		}
		printTop(w, fmt.Sprintf("top browser disagreements, %s vs uap-go (sampled rows):", p.name), counts, 5)
	}
}

func printTop(w io.Writer, title string, counts map[string]int, n int) {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	fmt.Fprintln(w, title)
	for i := 0; i < n && i < len(keys); i++ {
		fmt.Fprintf(w, "  %6d  %s\n", counts[keys[i]], keys[i])
	}
}

func reportBots(w io.Writer, sets []evalSet) {
	dets := detectors()
	fmt.Fprintf(w, "\n== Bot detection ==\n")
	fmt.Fprintln(w, "caught = bots flagged (higher is better); false pos. = humans flagged (lower is better)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "detector\t")
	for _, s := range sets {
		if s.isBots {
			fmt.Fprintf(tw, "caught, %s\t", s.name)
		} else {
			fmt.Fprintf(tw, "false pos., %s\t", s.name)
		}
	}
	fmt.Fprintln(tw)
	examples := make([]map[string][]string, len(dets))
	for di, d := range dets {
		examples[di] = map[string][]string{}
		fmt.Fprintf(tw, "%s\t", d.name)
		for _, s := range sets {
			flagged, n := 0, 0
			for j, r := range s.rows {
				v, known := d.isBot(r)
				if !known {
					continue
				}
				n++
				if v {
					flagged++
				}
				if v != s.isBots {
					examples[di][s.name] = append(examples[di][s.name], s.uas[j])
				}
			}
			fmt.Fprintf(tw, "%s\t", pct(flagged, n))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()

	for di, d := range dets {
		fmt.Fprintf(w, "\n%s:\n", d.name)
		for _, s := range sets {
			wrong := examples[di][s.name]
			if len(wrong) == 0 {
				continue
			}
			what := "missed"
			if !s.isBots {
				what = "flagged"
			}
			// All of a labelled set; an even spread of a big one.
			shown := wrong
			if !strings.HasPrefix(s.name, "labelled") {
				shown = sample(wrong, 10)
			}
			fmt.Fprintf(w, "  %s %d of %s, e.g.:\n", what, len(wrong), s.name)
			for _, ua := range shown {
				fmt.Fprintf(w, "    %s\n", short(ua))
			}
		}
	}
}
