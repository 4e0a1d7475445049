package useragent

import (
	"fmt"
	"hash/maphash"
	"strings"
	"unicode"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	medama "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// Device classes.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceTV      = "tv"
	DeviceOther   = "other"
)

// Bot reasons, one per layer; they are the values of the "filtered"
// counter, so they are stable strings. An empty Agent.Bot means the hit
// looks human. When several layers match, the first in this order wins.
const (
	BotNone      = ""
	BotNoUA      = "no_user_agent"      // empty or blank header
	BotInvalidUA = "invalid_user_agent" // too long, control bytes or invalid UTF-8
	// BotAI: an AI crawler, agent or assistant (GPTBot, ChatGPT-User,
	// ClaudeBot, Perplexity-User, ...), counted apart from other crawlers.
	BotAI = "ai_agent"
	// BotAutomation: a headless or automated browser (HeadlessChrome,
	// Puppeteer, Selenium, ...), or the tracker reported navigator.webdriver.
	BotAutomation = "automation"
	// BotCrawler: named by a maintained crawler list (CrawlerDetect, isbot,
	// crawler-user-agents).
	BotCrawler = "crawler"
	// BotNotBrowser: what no browser sends: no Mozilla/ form, a URL or an
	// e-mail address in the header, an HTTP library or framework.
	BotNotBrowser = "not_browser"
	// BotRequestShape: a browser's header on a request missing what every
	// browser sends (see Shape).
	BotRequestShape = "request_shape"
)

// Other is the browser or OS family for anything the parser does not know.
const Other = "Other"

// MaxLength is the longest header that is parsed. Real browsers send 100 to
// 300 bytes; anything past 512 is padding, an attack on the regex list, or
// an app stuffing its own data in, and none of it is a person we can count.
const MaxLength = 512

// DefaultCacheSize is the number of verdicts kept when Options.CacheSize is 0.
// One entry is a uint64 key plus an Agent whose strings point at the constant
// tables below; 16384 entries measured 2.6 MB of heap with LRU bookkeeping.
const DefaultCacheSize = 16384

// Agent is what the collector keeps of a user agent: coarse classes only.
type Agent struct {
	Device  string // "desktop", "mobile", "tablet", "tv", or "other"
	Browser string // family name, e.g. "Chrome", "Firefox", "Safari", "Edge", "Opera", "Samsung Internet"; "Other" if unknown
	OS      string // family, e.g. "Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS"; "Other" if unknown
	Bot     string // "" for a human; else the reason, one of the Bot* constants
}

// Machine reports whether an email-open fetch with this agent was made by
// a machine. BotNotBrowser does not count: mail apps are not browsers and
// many fetch images with their own HTTP stack (Dalvik, CFNetwork).
func (a Agent) Machine() bool {
	return a.Bot != BotNone && a.Bot != BotNotBrowser
}

// Options configures a Classifier.
type Options struct {
	// CacheSize bounds the verdict cache, in entries. 0 means DefaultCacheSize.
	CacheSize int
}

// Classifier turns User-Agent headers into Agents. It is safe for
// concurrent use; build one per process with New.
type Classifier struct {
	parser *medama.Parser
	rules  *detector
	seed   maphash.Seed

	// cache is a true LRU rather than a map reset when full. Measured on a
	// hit, hash and precheck included, best of 6 runs on 2 cores
	// (serial / RunParallel): LRU 94 / 94 ns, map under sync.RWMutex
	// 64 / 66 ns, sync.Map 59 / 35 ns. The maps win by 30-60 ns, which is
	// noise next to the microseconds an HTTP hit costs, while a reset drops
	// the whole hot set at once: every burst of 16k random headers (one
	// scripted client suffices) would send all regular visitors back
	// through the classification of a new header (4-270µs then, 3-15µs
	// now). LRU keeps the hot set, so we keep LRU.
	cache *lru.Cache[uint64, Agent]
}

// New builds a Classifier. It compiles the crawler lists (about 40 ms), so
// call it once at start-up.
func New(opts Options) (*Classifier, error) {
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("cannot build user-agent classifier: cache size %d is negative", opts.CacheSize)
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	cache, err := lru.New[uint64, Agent](opts.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("cannot build user-agent verdict cache of %d entries: %w", opts.CacheSize, err)
	}
	rules, err := newDetector()
	if err != nil {
		return nil, fmt.Errorf("cannot build user-agent classifier: %w", err)
	}
	return &Classifier{
		// medama.NewParser builds its trie once per process and shares it;
		// the trie is read-only after that, so concurrent Parse is safe.
		parser: medama.NewParser(),
		rules:  rules,
		// A per-process seed means nobody can precompute headers that
		// collide in our cache and poison another header's verdict.
		seed:  maphash.MakeSeed(),
		cache: cache,
	}, nil
}

// Classify returns the coarse classes of ua and whether it is a bot.
func (c *Classifier) Classify(ua string) Agent {
	if reason := precheck(ua); reason != BotNone {
		return rejected(reason)
	}
	// The key is a 64-bit hash, never the header, so the cache holds nothing
	// that identifies a visitor. A lookup hits another header's entry with
	// probability about 16384/2^64 (1e-15): far below any error the classes
	// themselves have.
	key := maphash.String(c.seed, ua)
	if a, ok := c.cache.Get(key); ok {
		return a
	}
	a := c.classify(ua)
	c.cache.Add(key, a)
	return a
}

// classifyUncached is Classify without the cache: the reference the cache
// is tested against.
func (c *Classifier) classifyUncached(ua string) Agent {
	if reason := precheck(ua); reason != BotNone {
		return rejected(reason)
	}
	return c.classify(ua)
}

// rejected is the Agent for a header that is not parsed.
func rejected(reason string) Agent {
	return Agent{Device: DeviceOther, Browser: Other, OS: Other, Bot: reason}
}

// classify does the uncached work. Every string it returns comes from the
// tables in this file, never from ua, so a cached Agent cannot keep the
// header alive.
func (c *Classifier) classify(ua string) Agent {
	p := c.parser.Parse(ua)
	a := Agent{
		Device:  deviceFamily(p.Device()),
		Browser: browserFamily(p.Browser()),
		OS:      osFamily(p.OS()),
	}
	correct(&a, ua)
	// medama's own IsBot is not used: on CrawlerDetect's 165k human
	// headers it flagged 214 (0.13%) and it caught no bot the lists
	// missed (tools/uabench/RESULTS.md).
	a.Bot = c.rules.detect(ua).reason
	return a
}

// precheck rejects headers that are not worth parsing. It returns BotNone for
// a header that should go on to the parser.
func precheck(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return BotNoUA
	}
	if len(ua) > MaxLength {
		return BotInvalidUA
	}
	// Eight bytes at a time while they are printable ASCII: this check runs
	// on every hit, cached or not, and a byte loop was a third of the
	// cached path's cost.
	i := 0
	for ; i+8 <= len(ua); i += 8 {
		if !printable8(ua[i : i+8]) {
			break
		}
	}
	for i < len(ua) {
		b := ua[i]
		if b-0x20 < 0x7f-0x20 { // printable ASCII
			i++
			continue
		}
		if b < utf8.RuneSelf { // C0 controls (tab included) and DEL
			return BotInvalidUA
		}
		r, size := utf8.DecodeRuneInString(ua[i:])
		if r == utf8.RuneError && size == 1 {
			return BotInvalidUA
		}
		if unicode.IsControl(r) { // C1 controls
			return BotInvalidUA
		}
		i += size
	}
	return BotNone
}

// correct fixes the mistakes medama v1.2.4 makes most often on
// crawlerdetect's device corpus (see tools/uabench/RESULTS.md). Each is a
// literal-token check, run only on a cache miss.
func correct(a *Agent, ua string) {
	// medama calls every Android browser a phone. Android browsers send
	// "Mobile" (Opera: "Mobi") on phones and leave it out on tablets, the
	// rule Google documents; medama got ~6,900 Galaxy Tab, Nexus 7/10,
	// Kindle Fire and similar headers wrong. Only WebKit browsers are
	// corrected: app HTTP stacks (Dalvik) and Opera Mini omit the token on
	// phones too.
	if a.Device == DeviceMobile && a.OS == "Android" &&
		strings.Contains(ua, "AppleWebKit") && !strings.Contains(ua, "Mobi") {
		a.Device = DeviceTablet
	}
	// medama reports Opera Mini (~2,200 headers) as Opera, and Amazon Silk
	// (~400) as Chrome, although both name themselves.
	if a.Browser == "Opera" && strings.Contains(ua, "Opera Mini") {
		a.Browser = "Opera Mini"
	}
	if a.Browser == "Chrome" && strings.Contains(ua, "Silk/") {
		a.Browser = "Silk"
	}
}

// printable8 reports whether all 8 bytes of s are printable ASCII
// (0x20-0x7e), testing them as one word.
func printable8(s string) bool {
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	if w&highs != 0 { // a byte >= 0x80
		return false
	}
	// With every byte below 0x80: a byte below 0x20 borrows into its high
	// bit, and 0x7f plus one sets it; neither can carry across bytes.
	return (w-0x20*ones)&^w&highs == 0 && (w+ones)&highs == 0
}

// The family tables: the one place that maps medama's names to ours. Ours
// are the stable strings stored and shown on dashboards, so a library rename
// must be absorbed here, not leak into stored data.
var (
	browserFamilies = map[agents.Browser]string{
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
	osFamilies = map[agents.OS]string{
		agents.OSWindows:  "Windows",
		agents.OSMacOS:    "macOS",
		agents.OSIOS:      "iOS",
		agents.OSAndroid:  "Android",
		agents.OSLinux:    "Linux",
		agents.OSChromeOS: "ChromeOS",
		agents.OSFreeBSD:  "FreeBSD",
		agents.OSOpenBSD:  "OpenBSD",
	}
	deviceFamilies = map[agents.Device]string{
		agents.DeviceDesktop: DeviceDesktop,
		agents.DeviceMobile:  DeviceMobile,
		agents.DeviceTablet:  DeviceTablet,
		agents.DeviceTV:      DeviceTV,
		// A bot has no device; the Bot field carries the verdict.
		agents.DeviceBot: DeviceOther,
	}
)

func browserFamily(b agents.Browser) string {
	if f, ok := browserFamilies[b]; ok {
		return f
	}
	return Other
}

func osFamily(o agents.OS) string {
	if f, ok := osFamilies[o]; ok {
		return f
	}
	return Other
}

func deviceFamily(d agents.Device) string {
	if f, ok := deviceFamilies[d]; ok {
		return f
	}
	return DeviceOther
}
