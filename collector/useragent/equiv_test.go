package useragent

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/x-way/crawlerdetect"
)

// TestCrawlerDetectEquivalent: the fast engine gives CrawlerDetect's own
// verdict on every header of CrawlerDetect's test corpus (3,694 crawlers,
// 165,636 devices), so that compiling its list pattern by pattern behind a
// literal filter changed nothing it decides.
func TestCrawlerDetectEquivalent(t *testing.T) {
	dir := crawlerDetectDir(t)
	if dir == "" {
		t.Skip("crawlerdetect's test data is not in the module cache")
	}
	// Every 11th header: CrawlerDetect itself costs 0.1-0.3 ms a header,
	// so the whole corpus takes a minute and a half (tools/uabench runs it).
	stride := 11
	if testing.Short() || raceEnabled {
		stride = 97
	}
	d, err := newDetector()
	if err != nil {
		t.Fatal(err)
	}
	ref := crawlerdetect.New()
	n, diff := 0, 0
	for _, file := range []string{"crawlers.txt", "devices.txt"} {
		for _, ua := range readLines(t, filepath.Join(dir, "testdata", file), stride) {
			n++
			var buf [4 * MaxLength]byte
			lower := lowerASCII(buf[:0], ua)
			stripped := string(d.exclusions.strip(nil, strings.TrimSpace(lower)))
			got := d.crawlerDetect.first(stripped, "") >= 0
			if want := ref.IsCrawler(ua); got != want {
				diff++
				if diff <= 20 {
					t.Errorf("%s: %q: engine %v, crawlerdetect %v (stripped %q)", file, ua, got, want, stripped)
				}
			}
		}
	}
	t.Logf("%d headers, %d differ", n, diff)
}

// TestIsbotAgrees: isbot's patterns, with their JavaScript lookarounds
// turned into Go checks, flag exactly the fixture headers isbot itself
// flags (testdata/isbot-5.2.3-flagged.txt, made by running isbot).
func TestIsbotAgrees(t *testing.T) {
	var rs ruleSet
	patterns, err := lines("isbot-patterns.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range patterns {
		r, lits, tree, err := compileRule(BotCrawler, ListIsbot, p, false)
		if err != nil {
			t.Fatal(err)
		}
		rs.add(r, lits, tree)
	}
	flagged := map[string]bool{}
	for _, fx := range readFixture(t, "isbot-5.2.3-flagged.txt") {
		flagged[fx.ua] = true
	}
	n, diff := 0, 0
	for _, name := range append(crawlerFixtures, "top-user-agents-2.1.138.txt", "user-agents-sample.txt.gz") {
		for _, fx := range readFixture(t, name) {
			n++
			if got := rs.first(lowerASCII(nil, fx.ua), fx.ua) >= 0; got != flagged[fx.ua] {
				diff++
				t.Errorf("%q: ours %v, isbot %v", fx.ua, got, flagged[fx.ua])
			}
		}
	}
	t.Logf("%d headers, %d flagged by isbot, %d differ", n, len(flagged), diff)
}

// FuzzCrawlerDetectEquivalent: on any header, the fast engine and
// CrawlerDetect itself agree.
func FuzzCrawlerDetectEquivalent(f *testing.F) {
	for _, s := range []string{uaChromeWindows, uaGooglebot, "cubot X1 Safari/1.2 bot", "Mozilla/5.0 (like Gecko) YandexSearch/1 Yandex", "; M bot", "  Java/1.8  ", "\u212Aurzor \u017Fpider"} {
		f.Add(s)
	}
	d, err := newDetector()
	if err != nil {
		f.Fatal(err)
	}
	ref := crawlerdetect.New()
	f.Fuzz(func(t *testing.T, ua string) {
		if len(ua) > MaxLength {
			return
		}
		stripped := string(d.exclusions.strip(nil, strings.TrimSpace(lowerASCII(nil, ua))))
		if got, want := d.crawlerDetect.first(stripped, "") >= 0, ref.IsCrawler(ua); got != want {
			t.Fatalf("%q: engine %v, crawlerdetect %v", ua, got, want)
		}
	})
}
