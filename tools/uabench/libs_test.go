package uabench

import (
	"fmt"
	"strings"

	medama "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
	mileusna "github.com/mileusna/useragent"
	"github.com/ua-parser/uap-go/uaparser"
	"github.com/x-way/crawlerdetect"
)

// result is one library's answer in collector/useragent's vocabulary, so the
// libraries can be compared with each other and with the labels.
type result struct {
	Browser string // "Other" when unknown
	OS      string // "Other" when unknown
	Device  string // "desktop", "mobile", "tablet", "tv", "other"; "" when the library has no device class
	Bot     bool
}

// parser is one library behind a common face.
type parser struct {
	name  string
	parse func(ua string) result
}

// The medama tables mirror collector/useragent's (kept in that package, not
// imported, so this module does not depend on the main module).
var (
	medamaBrowsers = map[agents.Browser]string{
		agents.BrowserChrome:    "Chrome",
		agents.BrowserEdge:      "Edge",
		agents.BrowserFirefox:   "Firefox",
		agents.BrowserSafari:    "Safari",
		agents.BrowserOpera:     "Opera",
		agents.BrowserOperaMini: "Opera Mini",
		agents.BrowserSamsung:   "Samsung Internet",
		agents.BrowserIE:        "Internet Explorer",
		agents.BrowserVivaldi:   "Vivaldi",
		agents.BrowserYandex:    "Yandex Browser",
		agents.BrowserSilk:      "Silk",
		agents.BrowserAndroid:   "Android Browser",
		agents.BrowserHuawei:    "Huawei Browser",
		agents.BrowserFalkon:    "Falkon",
		agents.BrowserNintendo:  "Nintendo Browser",
	}
	medamaOSes = map[agents.OS]string{
		agents.OSWindows:  "Windows",
		agents.OSMacOS:    "macOS",
		agents.OSIOS:      "iOS",
		agents.OSAndroid:  "Android",
		agents.OSLinux:    "Linux",
		agents.OSChromeOS: "ChromeOS",
		agents.OSFreeBSD:  "FreeBSD",
		agents.OSOpenBSD:  "OpenBSD",
	}
	medamaDevices = map[agents.Device]string{
		agents.DeviceDesktop: "desktop",
		agents.DeviceMobile:  "mobile",
		agents.DeviceTablet:  "tablet",
		agents.DeviceTV:      "tv",
		agents.DeviceBot:     "other",
	}

	mileusnaBrowsers = map[string]string{
		mileusna.Chrome:           "Chrome",
		mileusna.HeadlessChrome:   "Chrome",
		mileusna.Firefox:          "Firefox",
		mileusna.Safari:           "Safari",
		mileusna.MobileSafari:     "Safari",
		mileusna.Edge:             "Edge",
		mileusna.Opera:            "Opera",
		mileusna.OperaTouch:       "Opera",
		mileusna.OperaMini:        "Opera Mini",
		mileusna.SamsungBrowser:   "Samsung Internet",
		mileusna.InternetExplorer: "Internet Explorer",
		"Trident":                 "Internet Explorer",
		"Android browser":         "Android Browser",
		mileusna.Vivaldi:          "Vivaldi",
		"YaBrowser":               "Yandex Browser",
		"Silk":                    "Silk",
		"HuaweiBrowser":           "Huawei Browser",
		"NintendoBrowser":         "Nintendo Browser",
	}
	mileusnaOSes = map[string]string{
		mileusna.Windows:  "Windows",
		mileusna.MacOS:    "macOS",
		mileusna.IOS:      "iOS",
		mileusna.Android:  "Android",
		mileusna.Linux:    "Linux",
		mileusna.ChromeOS: "ChromeOS",
		mileusna.CrOS:     "ChromeOS",
		mileusna.FreeBSD:  "FreeBSD",
	}

	uapBrowsers = map[string]string{
		"Chrome":                     "Chrome",
		"Chrome Mobile":              "Chrome",
		"Chrome Mobile iOS":          "Chrome",
		"Chrome Mobile WebView":      "Chrome",
		"HeadlessChrome":             "Chrome",
		"Chromium":                   "Chrome",
		"Safari":                     "Safari",
		"Mobile Safari":              "Safari",
		"Mobile Safari UI/WKWebView": "Safari",
		"Firefox":                    "Firefox",
		"Firefox Mobile":             "Firefox",
		"Firefox iOS":                "Firefox",
		"Edge":                       "Edge",
		"Edge Mobile":                "Edge",
		"Opera":                      "Opera",
		"Opera Mobile":               "Opera",
		"Opera Mini":                 "Opera Mini",
		"Samsung Internet":           "Samsung Internet",
		"IE":                         "Internet Explorer",
		"IE Mobile":                  "Internet Explorer",
		"Vivaldi":                    "Vivaldi",
		"Yandex Browser":             "Yandex Browser",
		"Amazon Silk":                "Silk",
		"Huawei Browser":             "Huawei Browser",
		"Android":                    "Android Browser",
		"NetFront NX":                "Nintendo Browser",
	}
	uapOSes = map[string]string{
		"Windows":   "Windows",
		"Mac OS X":  "macOS",
		"macOS":     "macOS",
		"iOS":       "iOS",
		"Android":   "Android",
		"Linux":     "Linux",
		"Ubuntu":    "Linux",
		"Fedora":    "Linux",
		"Debian":    "Linux",
		"Chrome OS": "ChromeOS",
		"ChromeOS":  "ChromeOS",
		"FreeBSD":   "FreeBSD",
		"OpenBSD":   "OpenBSD",
		"Tizen":     "Tizen",
		"webOS":     "webOS",
	}
)

func family(m map[string]string, name string) string {
	if f, ok := m[name]; ok {
		return f
	}
	return "Other"
}

// libs builds the three parsers once; each is safe for concurrent use.
type libs struct {
	medama *medama.Parser
	uap    *uaparser.Parser
	cd     *crawlerdetect.CrawlerDetect
}

func newLibs() (*libs, error) {
	uap, err := uaparser.New()
	if err != nil {
		return nil, fmt.Errorf("cannot build uap-go parser: %w", err)
	}
	return &libs{medama: medama.NewParser(), uap: uap, cd: crawlerdetect.New()}, nil
}

// parsers lists the parsers; uap-go must stay last (the coverage report
// compares the others with it).
func (l *libs) parsers() []parser {
	return []parser{
		{"medama", l.parseMedama},
		{"collector/useragent", l.parseProduct},
		{"mileusna", parseMileusna},
		{"uap-go", l.parseUAP},
	}
}

// parseProduct is medama plus collector/useragent's corrections, mirrored
// from its correct function.
func (l *libs) parseProduct(ua string) result {
	r := l.parseMedama(ua)
	if r.Device == "mobile" && r.OS == "Android" &&
		strings.Contains(ua, "AppleWebKit") && !strings.Contains(ua, "Mobi") {
		r.Device = "tablet"
	}
	if r.Browser == "Opera" && strings.Contains(ua, "Opera Mini") {
		r.Browser = "Opera Mini"
	}
	if r.Browser == "Chrome" && strings.Contains(ua, "Silk/") {
		r.Browser = "Silk"
	}
	return r
}

func (l *libs) parseMedama(ua string) result {
	p := l.medama.Parse(ua)
	r := result{Browser: "Other", OS: "Other", Device: "other", Bot: p.IsBot()}
	if f, ok := medamaBrowsers[p.Browser()]; ok {
		r.Browser = f
	}
	if f, ok := medamaOSes[p.OS()]; ok {
		r.OS = f
	}
	if f, ok := medamaDevices[p.Device()]; ok {
		r.Device = f
	}
	return r
}

func parseMileusna(ua string) result {
	p := mileusna.Parse(ua)
	r := result{
		Browser: family(mileusnaBrowsers, p.Name),
		OS:      family(mileusnaOSes, p.OS),
		Device:  "other",
		Bot:     p.Bot,
	}
	switch {
	case p.Tablet:
		r.Device = "tablet"
	case p.Mobile:
		r.Device = "mobile"
	case p.Desktop:
		r.Device = "desktop"
	}
	return r
}

// parseUAP leaves Device empty: uap-core names device models ("iPhone",
// "Samsung SM-S911B"), not classes, and a class derived here would measure
// our heuristic, not the library.
func (l *libs) parseUAP(ua string) result {
	c := l.uap.Parse(ua)
	return result{
		Browser: family(uapBrowsers, c.UserAgent.Family),
		OS:      family(uapOSes, c.Os.Family),
		Bot:     c.Device.Family == "Spider",
	}
}

// botDetector is one bot-detection method.
type botDetector struct {
	name  string
	isBot func(ua string) bool
}

func (l *libs) botDetectors() []botDetector {
	return []botDetector{
		{"crawlerdetect", l.cd.IsCrawler},
		{"medama IsBot", func(ua string) bool { return l.medama.Parse(ua).IsBot() }},
		{"medama OR crawlerdetect", func(ua string) bool { return l.medama.Parse(ua).IsBot() || l.cd.IsCrawler(ua) }},
		{"mileusna Bot", func(ua string) bool { return mileusna.Parse(ua).Bot }},
		{"uap-go Spider", func(ua string) bool { return l.uap.ParseDevice(ua).Family == "Spider" }},
		{"collector/useragent", l.isBotProduct},
	}
}

// isBotProduct is what collector/useragent does: medama, then the
// automation tokens, then crawlerdetect.
func (l *libs) isBotProduct(ua string) bool {
	return l.medama.Parse(ua).IsBot() || hasAutomationToken(ua) || l.cd.IsCrawler(ua)
}

// automationTokens mirrors collector/useragent's list of headless and
// automation tools that crawlerdetect v0.2.30 misses.
var automationTokens = []string{
	"slimerjs", "casperjs", "htmlunit", "jsdom", "nightmare",
	"cypress", "puppeteer", "playwright", "selenium", "webdriver",
}

func hasAutomationToken(ua string) bool {
	lower := strings.ToLower(ua)
	for _, tok := range automationTokens {
		if strings.Contains(lower, tok) {
			return true
		}
	}
	return false
}
