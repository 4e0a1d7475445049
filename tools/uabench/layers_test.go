package uabench

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"

	medama "github.com/medama-io/go-useragent"
	"github.com/x-way/crawlerdetect"

	"tally/collector/useragent"
)

// This file measures the layered classifier of issue 12 against the
// classifier it replaced, on the published lists vendored in
// collector/useragent/testdata and on crawlerdetect's devices.txt.

// layerSet is one corpus for the layers report.
type layerSet struct {
	name    string
	bots    bool // every header is a bot (a crawler list) or a browser
	headers []weighted
}

type weighted struct {
	ua string
	w  float64
}

const fixtures = "../../collector/useragent/testdata/"

func readWeighted(tb testing.TB, path string) []weighted {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("cannot open %s: %v", path, err)
	}
	defer f.Close()
	var r io.Reader = f
	gz := strings.HasSuffix(path, ".gz")
	if gz {
		if r, err = gzip.NewReader(f); err != nil {
			tb.Fatal(err)
		}
	}
	var out []weighted
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		h := weighted{ua: l, w: 1}
		if gz {
			ws, ua, _ := strings.Cut(l, "\t")
			h.ua = ua
			if h.w, err = strconv.ParseFloat(ws, 64); err != nil {
				tb.Fatalf("%s: bad weight %q", path, ws)
			}
		}
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func layerSets(tb testing.TB) []layerSet {
	tb.Helper()
	c := loadCorpus(tb)
	unweighted := func(uas []string) []weighted {
		out := make([]weighted, len(uas))
		for i, ua := range uas {
			out[i] = weighted{ua, 1}
		}
		return out
	}
	return []layerSet{
		{"crawler-user-agents 1.60.0 (npm), all instances", true, readWeighted(tb, fixtures+"crawler-user-agents-1.60.0-instances.txt")},
		{"CrawlerDetect v0.2.30 crawlers.txt", true, unweighted(c.crawlers)},
		{"user-agents (npm), 6 daily snapshots", false, readWeighted(tb, fixtures+"user-agents-sample.txt.gz")},
		{"top-user-agents 2.1.138 (npm)", false, readWeighted(tb, fixtures+"top-user-agents-2.1.138.txt")},
		{"CrawlerDetect v0.2.30 devices.txt (2014-2018, apps included)", false, unweighted(c.devices)},
	}
}

// before is the classifier on main before issue 12: the same prechecks,
// then CrawlerDetect OR'ed with a ten-token automation list.
type before struct{ cd *crawlerdetect.CrawlerDetect }

var beforeTokens = []string{"slimerjs", "casperjs", "htmlunit", "jsdom", "nightmare", "cypress", "puppeteer", "playwright", "selenium", "webdriver"}

func (b before) reason(after useragent.Agent, ua string) string {
	if after.Bot == useragent.BotNoUA || after.Bot == useragent.BotInvalidUA {
		return after.Bot // the prechecks did not change
	}
	lower := strings.ToLower(ua)
	for _, t := range beforeTokens {
		if strings.Contains(lower, t) {
			return useragent.BotCrawler
		}
	}
	if b.cd.IsCrawler(ua) {
		return useragent.BotCrawler
	}
	return useragent.BotNone
}

// TestLayersReport prints the before/after table by reason, the share
// filtered of each corpus, and what each list adds. Run with -v.
func TestLayersReport(t *testing.T) {
	if testing.Short() {
		t.Skip("classifies ~190k headers, CrawlerDetect's old path included; skipped in -short")
	}
	c, err := useragent.New(useragent.Options{CacheSize: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	old := before{crawlerdetect.New()}
	reasons := []string{useragent.BotNone, useragent.BotNoUA, useragent.BotInvalidUA, useragent.BotAI,
		useragent.BotAutomation, useragent.BotCrawler, useragent.BotNotBrowser}
	sets := layerSets(t)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(w, "\n## Before (main) and after (layers), by reason")
	fmt.Fprint(w, "corpus\tagents\t")
	for _, r := range reasons {
		fmt.Fprintf(w, "%s\t", reasonLabel(r))
	}
	fmt.Fprintln(w, "filtered\tfiltered by weight\t")
	lists := map[string]map[string]int{} // corpus -> list -> headers it flags
	only := map[string]map[string]int{}  // corpus -> list -> headers only it flags
	var flaggedBrowsers []string
	for _, s := range sets {
		var nb, na [16]int
		var wb, wa, wall float64
		lists[s.name], only[s.name] = map[string]int{}, map[string]int{}
		for _, h := range s.headers {
			a := c.Classify(h.ua)
			rb := old.reason(a, h.ua)
			nb[slices.Index(reasons, rb)]++
			na[slices.Index(reasons, a.Bot)]++
			wall += h.w
			if rb != useragent.BotNone {
				wb += h.w
			}
			if a.Bot != useragent.BotNone {
				wa += h.w
				if !s.bots && !strings.Contains(s.name, "devices") {
					flaggedBrowsers = append(flaggedBrowsers, a.Bot+": "+h.ua)
				}
			}
			m := c.Matches(h.ua)
			for _, l := range m {
				lists[s.name][l]++
			}
			if len(m) == 1 {
				only[s.name][m[0]]++
			}
		}
		for i, counts := range [][16]int{nb, na} {
			fmt.Fprintf(w, "%s, %s\t%d\t", s.name, []string{"before", "after"}[i], len(s.headers))
			for j := range reasons {
				fmt.Fprintf(w, "%d\t", counts[j])
			}
			wf := []float64{wb, wa}[i]
			fmt.Fprintf(w, "%.3f%%\t%.4f%%\t\n", 100*float64(len(s.headers)-counts[0])/float64(len(s.headers)), 100*wf/wall)
		}
	}
	w.Flush()

	fmt.Println("\n## What each list flags (and flags alone), per corpus")
	names := []string{useragent.ListCrawlerDetect, useragent.ListIsbot, useragent.ListCrawlerUserAgents,
		"tally:" + useragent.BotAI, "tally:" + useragent.BotAutomation, "tally:" + useragent.BotNotBrowser}
	w = tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprint(w, "corpus\t")
	for _, n := range names {
		fmt.Fprintf(w, "%s\t", n)
	}
	fmt.Fprintln(w)
	for _, s := range sets {
		fmt.Fprintf(w, "%s\t", s.name)
		for _, n := range names {
			fmt.Fprintf(w, "%d (%d alone)\t", lists[s.name][n], only[s.name][n])
		}
		fmt.Fprintln(w)
	}
	w.Flush()
	sort.Strings(flaggedBrowsers)
	fmt.Println("\n## Browser-sample agents filtered (user-agents, top-user-agents)")
	for _, f := range flaggedBrowsers {
		fmt.Println("  " + f)
	}
}

func reasonLabel(r string) string {
	if r == "" {
		return "counted"
	}
	return r
}

// firstSightHeaders are distinct real headers, more than the cache holds
// in the benchmarks below, so that every call is a first sight.
func firstSightHeaders(tb testing.TB, browsers bool) []string {
	sets := layerSets(tb)
	var out []string
	for _, s := range sets {
		if s.bots == !browsers && !strings.Contains(s.name, "top-") {
			for _, h := range s.headers {
				out = append(out, h.ua)
			}
		}
	}
	// A fixed spread over the whole set, browsers old and new.
	step := max(1, len(out)/8192)
	var spread []string
	for i := 0; i < len(out); i += step {
		spread = append(spread, out[i])
	}
	return spread
}

func benchFirstSight(b *testing.B, browsers bool) {
	c, err := useragent.New(useragent.Options{CacheSize: 1024})
	if err != nil {
		b.Fatal(err)
	}
	hs := firstSightHeaders(b, browsers)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Classify(hs[i%len(hs)])
		i++
	}
}

// BenchmarkLayersFirstSightBrowsers: collector/useragent.Classify on a
// header it has not seen, real browsers (user-agents and devices.txt).
func BenchmarkLayersFirstSightBrowsers(b *testing.B) { benchFirstSight(b, true) }

// BenchmarkLayersFirstSightCrawlers: the same on the crawler lists.
func BenchmarkLayersFirstSightCrawlers(b *testing.B) { benchFirstSight(b, false) }

// BenchmarkBeforeFirstSightBrowsers: what main did for a new header:
// medama's parse plus CrawlerDetect.
func BenchmarkBeforeFirstSightBrowsers(b *testing.B) {
	p, cd := medama.NewParser(), crawlerdetect.New()
	hs := firstSightHeaders(b, true)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ua := hs[i%len(hs)]
		p.Parse(ua)
		cd.IsCrawler(ua)
		i++
	}
}

// BenchmarkLayersCached: a seen header, the path of nearly every hit.
func BenchmarkLayersCached(b *testing.B) {
	c, err := useragent.New(useragent.Options{})
	if err != nil {
		b.Fatal(err)
	}
	hs := firstSightHeaders(b, true)[:13]
	for _, h := range hs {
		c.Classify(h)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Classify(hs[i%len(hs)])
		i++
	}
}
