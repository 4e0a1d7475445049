package useragent

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Real headers, as browsers and tools sent them.
const (
	uaChromeWindows    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	uaSafariIPhone     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1"
	uaSafariIPad       = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
	uaSafariMac        = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"
	uaFirefoxLinux     = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	uaSamsungAndroid   = "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"
	uaChromeAndroid    = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
	uaChromeAndroidTab = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	uaSamsungTab       = "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36"
	uaOperaMini        = "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16"
	uaKindleSilk       = "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/119.3.1 like Chrome/119.0.6045.193 Safari/537.36"
	uaFirefoxAndroid   = "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0"
	uaEdgeWindows      = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"
	uaOperaWindows     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0"
	uaChromeOS         = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	uaTizenTV          = "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"
	uaGooglebot        = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaGooglebotPhone   = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaBingbot          = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
	uaCurl             = "curl/8.4.0"
	uaPythonRequests   = "python-requests/2.31.0"
	uaHeadlessChrome   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36"
	uaPhantomJS        = "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1"
	uaSlimerJS         = "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:38.0) Gecko/20100101 Firefox/38.0 SlimerJS/0.10.0"
	uaJsdom            = "Mozilla/5.0 (linux) AppleWebKit/537.36 (KHTML, like Gecko) jsdom/20.0.3"
)

func newTestClassifier(t testing.TB, opts Options) *Classifier {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	return c
}

func TestClassify(t *testing.T) {
	c := newTestClassifier(t, Options{})
	tests := []struct {
		name string
		ua   string
		want Agent
	}{
		{"chrome windows", uaChromeWindows, Agent{"desktop", "Chrome", "Windows", ""}},
		{"safari iphone", uaSafariIPhone, Agent{"mobile", "Safari", "iOS", ""}},
		{"safari ipad", uaSafariIPad, Agent{"tablet", "Safari", "iOS", ""}},
		{"safari mac", uaSafariMac, Agent{"desktop", "Safari", "macOS", ""}},
		{"firefox linux", uaFirefoxLinux, Agent{"desktop", "Firefox", "Linux", ""}},
		{"samsung internet android", uaSamsungAndroid, Agent{"mobile", "Samsung Internet", "Android", ""}},
		{"chrome android", uaChromeAndroid, Agent{"mobile", "Chrome", "Android", ""}},
		// medama calls these "mobile"; no "Mobile" token means a tablet.
		{"chrome android tablet", uaChromeAndroidTab, Agent{"tablet", "Chrome", "Android", ""}},
		{"samsung internet tablet", uaSamsungTab, Agent{"tablet", "Samsung Internet", "Android", ""}},
		{"opera mini android stays mobile", uaOperaMini, Agent{"mobile", "Opera Mini", "Android", ""}},
		{"kindle silk", uaKindleSilk, Agent{"tablet", "Silk", "Android", ""}},
		{"firefox android", uaFirefoxAndroid, Agent{"mobile", "Firefox", "Android", ""}},
		{"edge windows", uaEdgeWindows, Agent{"desktop", "Edge", "Windows", ""}},
		{"opera windows", uaOperaWindows, Agent{"desktop", "Opera", "Windows", ""}},
		{"chromeos", uaChromeOS, Agent{"desktop", "Chrome", "ChromeOS", ""}},
		{"tizen tv", uaTizenTV, Agent{"tv", "Samsung Internet", "Linux", ""}},

		{"googlebot", uaGooglebot, Agent{"other", "Other", "Other", "crawler"}},
		// The smartphone Googlebot looks like Chrome on Android; only the
		// bot verdict matters.
		{"googlebot smartphone", uaGooglebotPhone, Agent{"other", "Chrome", "Android", "crawler"}},
		{"bingbot", uaBingbot, Agent{"other", "Other", "Other", "crawler"}},
		{"curl", uaCurl, Agent{"other", "Other", "Other", "crawler"}},
		{"python-requests", uaPythonRequests, Agent{"other", "Other", "Other", "crawler"}},
		{"headless chrome", uaHeadlessChrome, Agent{"other", "Chrome", "Linux", "automation"}},
		{"phantomjs", uaPhantomJS, Agent{"desktop", "Safari", "Linux", "automation"}},
		{"slimerjs (not in crawlerdetect)", uaSlimerJS, Agent{"desktop", "Firefox", "Windows", "automation"}},
		{"jsdom (not in crawlerdetect)", uaJsdom, Agent{"other", "Other", "Other", "automation"}},

		{"empty", "", Agent{"other", "Other", "Other", "no_user_agent"}},
		{"whitespace", " \t ", Agent{"other", "Other", "Other", "no_user_agent"}},
		{"600 bytes", uaChromeWindows + strings.Repeat("x", 600-len(uaChromeWindows)), Agent{"other", "Other", "Other", "invalid_user_agent"}},
		{"binary garbage", "\x00\xff\xfe\x01binary\x7f", Agent{"other", "Other", "Other", "invalid_user_agent"}},
		{"invalid utf-8", "Mozilla/5.0 \xc3\x28", Agent{"other", "Other", "Other", "invalid_user_agent"}},
		{"newline inside", "Mozilla/5.0\r\nX-Injected: 1", Agent{"other", "Other", "Other", "invalid_user_agent"}},
		{"tab inside", "Mozilla/5.0\t(X11)", Agent{"other", "Other", "Other", "invalid_user_agent"}},
		{"c1 control", "Mozilla/5.0 \u0085", Agent{"other", "Other", "Other", "invalid_user_agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second answer comes from the cache.
			for i := range 2 {
				if got := c.Classify(tt.ua); got != tt.want {
					t.Errorf("call %d: Classify(%q)\n got %+v\nwant %+v", i, tt.ua, got, tt.want)
				}
			}
		})
	}
}

func TestClassifyValidUTF8IsParsed(t *testing.T) {
	// Non-ASCII that is neither invalid nor a control character must reach
	// the parser: some apps put localized names in their headers.
	c := newTestClassifier(t, Options{})
	ua := uaChromeWindows + " Résumé/1.0"
	if got := c.Classify(ua); got.Bot != BotNone || got.Browser != "Chrome" {
		t.Errorf("Classify(%q) = %+v, want a human Chrome", ua, got)
	}
	exactly := uaChromeWindows + strings.Repeat("x", MaxLength-len(uaChromeWindows))
	if got := c.Classify(exactly); got.Bot == BotInvalidUA {
		t.Errorf("a header of exactly MaxLength bytes was rejected: %+v", got)
	}
}

func TestNewOptions(t *testing.T) {
	f := func(size int, wantErr bool) {
		t.Helper()
		c, err := New(Options{CacheSize: size})
		if (err != nil) != wantErr {
			t.Fatalf("New(CacheSize: %d) error = %v, want error %v", size, err, wantErr)
		}
		if err == nil && c == nil {
			t.Fatalf("New(CacheSize: %d) returned nil and no error", size)
		}
	}
	f(0, false)
	f(1, false)
	f(100, false)
	f(-1, true)
}

func TestCacheIsBounded(t *testing.T) {
	c := newTestClassifier(t, Options{CacheSize: 8})
	for i := range 100 {
		c.Classify(fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0) Chrome/%d.0 Safari/537.36", i))
	}
	if n := c.cache.Len(); n > 8 {
		t.Errorf("cache holds %d entries, want at most 8", n)
	}
}

func TestCachedEqualsUncached(t *testing.T) {
	corpus := loadCorpus(t)
	// A small cache makes entries evict and come back, which is where a
	// keying bug would show.
	c := newTestClassifier(t, Options{CacheSize: 512})
	for _, ua := range corpus {
		want := c.classifyUncached(ua)
		for i := range 2 {
			if got := c.Classify(ua); got != want {
				t.Fatalf("call %d: Classify(%q) = %+v, uncached %+v", i, ua, got, want)
			}
		}
	}
}

func TestConcurrentClassify(t *testing.T) {
	corpus := testCorpus()
	// 24 headers through 16 slots: goroutines hit, miss and evict at once.
	c := newTestClassifier(t, Options{CacheSize: 16})
	want := make([]Agent, len(corpus))
	for i, ua := range corpus {
		want[i] = c.classifyUncached(ua)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for round := range 10 {
				for i := range corpus {
					j := (i + g + round) % len(corpus)
					if got := c.Classify(corpus[j]); got != want[j] {
						select {
						case errs <- fmt.Sprintf("Classify(%q) = %+v, want %+v", corpus[j], got, want[j]):
						default:
						}
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestPrecheckEveryByte(t *testing.T) {
	// Every byte value at every offset of a 17-byte header, so both the
	// 8-byte fast path and the byte loop see it, against the plain rule.
	base := []byte("Mozilla/5.0 (X11)")
	for pos := range base {
		for v := range 256 {
			b := append([]byte(nil), base...)
			b[pos] = byte(v)
			ua := string(b)
			want := BotNone
			if v < 0x20 || v == 0x7f || v >= 0x80 { // lone >= 0x80 is invalid UTF-8
				want = BotInvalidUA
			}
			if got := precheck(ua); got != want {
				t.Fatalf("precheck(%q) = %q, want %q", ua, got, want)
			}
		}
	}
}

// testCorpus is the fixed set of headers used by the tests that need no
// external data.
func testCorpus() []string {
	return []string{
		uaChromeWindows, uaSafariIPhone, uaSafariIPad, uaSafariMac, uaFirefoxLinux,
		uaSamsungAndroid, uaChromeAndroid, uaChromeAndroidTab, uaSamsungTab, uaOperaMini,
		uaFirefoxAndroid, uaKindleSilk, uaEdgeWindows, uaOperaWindows, uaChromeOS,
		uaTizenTV, uaGooglebot, uaGooglebotPhone, uaBingbot, uaCurl, uaPythonRequests,
		uaHeadlessChrome, uaPhantomJS, uaSlimerJS, uaJsdom,
		"", " ", strings.Repeat("a", 600), "\x00\xff",
	}
}

// loadCorpus returns testCorpus plus the crawler and device headers that
// crawlerdetect's module ships as test data, read from the module cache so
// they are not copied into this repository.
func loadCorpus(t *testing.T) []string {
	t.Helper()
	corpus := testCorpus()
	dir := crawlerDetectDir(t)
	if dir == "" {
		return corpus
	}
	// Under -race one uncached call costs 5ms or more (0.1-0.3ms without),
	// so the sample is kept to about 500 headers spread over both files;
	// tools/uabench runs the whole files.
	scale := 1
	if testing.Short() {
		scale = 4
	}
	corpus = append(corpus, readLines(t, filepath.Join(dir, "testdata", "crawlers.txt"), 16*scale)...)
	corpus = append(corpus, readLines(t, filepath.Join(dir, "testdata", "devices.txt"), 600*scale)...)
	return corpus
}

// crawlerDetectDir is where the module cache holds crawlerdetect, whose
// test data is the large legacy corpus, or "" when it cannot be found.
func crawlerDetectDir(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Logf("go command not found (%v): using the built-in corpus only", err)
		return ""
	}
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/x-way/crawlerdetect").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Logf("cannot locate crawlerdetect module (%v): using the built-in corpus only", err)
		return ""
	}
	return dir
}

// readLines returns every stride-th line of path.
func readLines(t *testing.T, path string, stride int) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("cannot open corpus: %v", err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 0; s.Scan(); n++ {
		if n%stride == 0 {
			lines = append(lines, s.Text())
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("cannot read corpus %s: %v", path, err)
	}
	return lines
}

// benchHeaders is a realistic mix of repeat visitors: few distinct headers,
// all of which fit in the cache.
var benchHeaders = []string{
	uaChromeWindows, uaSafariIPhone, uaSafariIPad, uaSafariMac, uaFirefoxLinux,
	uaSamsungAndroid, uaChromeAndroid, uaEdgeWindows, uaOperaWindows, uaChromeOS,
	uaGooglebot, uaBingbot, uaCurl,
}

func BenchmarkClassifyCached(b *testing.B) {
	c := newTestClassifier(b, Options{})
	for _, ua := range benchHeaders {
		c.Classify(ua)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Classify(benchHeaders[i%len(benchHeaders)])
		i++
	}
}

func BenchmarkClassifyCachedParallel(b *testing.B) {
	c := newTestClassifier(b, Options{})
	for _, ua := range benchHeaders {
		c.Classify(ua)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Classify(benchHeaders[i%len(benchHeaders)])
			i++
		}
	})
}

// BenchmarkClassifyUncached cycles through more distinct headers than the
// cache holds, so with LRU eviction every call misses: this is the cost of a
// header never seen before.
func BenchmarkClassifyUncached(b *testing.B) {
	c := newTestClassifier(b, Options{CacheSize: 1024})
	headers := distinctHeaders(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Classify(headers[i%len(headers)])
		i++
	}
}

// distinctHeaders makes n different, realistic headers by varying build
// numbers in real templates.
func distinctHeaders(n int) []string {
	templates := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.%d.%d Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.%d Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 13; SM-S%dB) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.%d Chrome/115.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.%d) Gecko/20100101 Firefox/121.%d",
		"Mozilla/5.0 (compatible; Googlebot/2.%d; +http://www.google.com/bot.html) %d",
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(templates[i%len(templates)], i, i/len(templates))
	}
	return out
}
