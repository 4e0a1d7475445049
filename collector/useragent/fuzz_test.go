package useragent

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// FuzzClassify: any header gives classes from the fixed tables, the cache
// agrees with the parser, the prechecks hold, and no returned string
// points into the header (a cached verdict must not keep it alive).
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"", " ", "Mozilla/5.0", "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80) Presto/2.5.25 Version/10.54", "a\x00b", "\xff\xfe", strings.Repeat("A", MaxLength+1),
	} {
		f.Add(s)
	}
	c, err := New(Options{CacheSize: 64})
	if err != nil {
		f.Fatal(err)
	}
	browsers := append(slices.Collect(maps.Values(browserFamilies)), Other)
	oses := append(slices.Collect(maps.Values(osFamilies)), Other)
	devices := []string{DeviceDesktop, DeviceMobile, DeviceTablet, DeviceTV, DeviceOther}
	bots := []string{BotNone, BotNoUA, BotInvalidUA, BotAI, BotAutomation, BotCrawler, BotNotBrowser}
	f.Fuzz(func(t *testing.T, ua string) {
		a := c.Classify(ua)
		if !slices.Contains(browsers, a.Browser) || !slices.Contains(oses, a.OS) ||
			!slices.Contains(devices, a.Device) || !slices.Contains(bots, a.Bot) {
			t.Fatalf("Classify(%q) = %+v: a class outside the tables", ua, a)
		}
		if again, ref := c.Classify(ua), c.classifyUncached(ua); again != a || ref != a {
			t.Fatalf("Classify(%q) = %+v, then %+v; uncached %+v", ua, a, again, ref)
		}
		switch {
		case strings.TrimSpace(ua) == "":
			if a.Bot != BotNoUA {
				t.Fatalf("blank header %q: %+v", ua, a)
			}
		case len(ua) > MaxLength || !utf8.ValidString(ua) || strings.ContainsFunc(ua, unicode.IsControl):
			if a.Bot != BotInvalidUA {
				t.Fatalf("oversized or control-character header %q: %+v", ua, a)
			}
		}
		if len(ua) > 0 {
			lo := uintptr(unsafe.Pointer(unsafe.StringData(ua)))
			for _, s := range []string{a.Browser, a.OS, a.Device, a.Bot} {
				if p := uintptr(unsafe.Pointer(unsafe.StringData(s))); len(s) > 0 && p >= lo && p < lo+uintptr(len(ua)) {
					t.Fatalf("Classify(%q) returned %q, which points into the header", ua, s)
				}
			}
		}
	})
}
