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
	"github.com/x-way/crawlerdetect"
)

// Device classes.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceTV      = "tv"
	DeviceOther   = "other"
)

// Bot reasons. An empty Agent.Bot means the hit looks human.
const (
	BotNone      = ""
	BotNoUA      = "no_user_agent"
	BotInvalidUA = "invalid_user_agent"
	BotCrawler   = "crawler"
)

// Other is the browser or OS family for anything the parser does not know.
const Other = "Other"

// MaxLength is the longest header that is parsed. Real browsers send 100 to
// 300 bytes; anything past 512 is padding, an attack on the regex list, or
// an app stuffing its own data in, and none of it is a person we can count.
const MaxLength = 512

// DefaultCacheSize is the number of verdicts kept when Options.CacheSize is 0.
// One entry is a uint64 key plus an Agent whose strings point at the constant
// tables below, so 16384 entries cost roughly 2 MiB with LRU bookkeeping.
const DefaultCacheSize = 16384

// Agent is what the collector keeps of a user agent: coarse classes only.
type Agent struct {
	Device  string // "desktop", "mobile", "tablet", "tv", or "other"
	Browser string // family name, e.g. "Chrome", "Firefox", "Safari", "Edge", "Opera", "Samsung Internet"; "Other" if unknown
	OS      string // family, e.g. "Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS"; "Other" if unknown
	Bot     string // "" for a human; else the reason: "no_user_agent", "invalid_user_agent", "crawler"
}

// Options configures a Classifier.
type Options struct {
	// CacheSize bounds the verdict cache, in entries. 0 means DefaultCacheSize.
	CacheSize int
}

// Classifier turns User-Agent headers into Agents. It is safe for
// concurrent use; build one per process with New.
type Classifier struct {
	parser   *medama.Parser
	crawlers *crawlerdetect.CrawlerDetect
	seed     maphash.Seed

	// cache is a true LRU rather than a map that is reset when full. A map
	// under a sync.RWMutex or a sync.Map measured 25-30% faster on a hit
	// (medians on 2 cores, loaded machine, hash+precheck included: LRU
	// 133 ns serial / 158 ns parallel, RWMutex map 94 / 124, sync.Map
	// 104 / 127), which is not clearly faster given the noise, and a reset
	// drops every hot entry at once: a burst of random headers would then
	// send all regular visitors through the 150µs regex again. LRU keeps
	// the hot set.
	cache *lru.Cache[uint64, Agent]
}

// New builds a Classifier. It compiles the crawler pattern list, which takes
// a few tens of milliseconds, so call it once at start-up.
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
	return &Classifier{
		// medama.NewParser builds its trie once per process and shares it;
		// the trie is read-only after that, so concurrent Parse is safe.
		parser:   medama.NewParser(),
		crawlers: crawlerdetect.New(),
		// A per-process seed means nobody can precompute headers that
		// collide in our cache and poison another header's verdict.
		seed:  maphash.MakeSeed(),
		cache: cache,
	}, nil
}

// Classify returns the coarse classes of ua and whether it is a bot.
func (c *Classifier) Classify(ua string) Agent {
	if reason := precheck(ua); reason != BotNone {
		return Agent{Device: DeviceOther, Browser: Other, OS: Other, Bot: reason}
	}
	// The key is a 64-bit hash, never the header, so the cache holds nothing
	// that identifies a visitor. Two live headers colliding is about
	// 2^-64 * 16384 per insert: far below any error the classes themselves
	// have.
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
		return Agent{Device: DeviceOther, Browser: Other, OS: Other, Bot: reason}
	}
	return c.classify(ua)
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
	// Cheapest first: the trie and the token scan cost well under a
	// microsecond, the CrawlerDetect regex about 150µs on our 2-core
	// machines, so a bot either of them recognises skips the regex.
	if p.IsBot() || isAutomation(ua) || c.crawlers.IsCrawler(ua) {
		a.Bot = BotCrawler
	}
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
	for i := 0; i < len(ua); {
		b := ua[i]
		if b >= 0x20 && b < 0x7f { // printable ASCII: the common case
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

// automationTokens are headless browsers and browser-automation tools that
// CrawlerDetect v0.2.30 does not match (HeadlessChrome, PhantomJS and
// Lighthouse it does). Matched case-insensitively anywhere in the header.
// Electron is deliberately absent: desktop apps built on it are people.
var automationTokens = [...]string{
	"slimerjs",
	"casperjs",
	"htmlunit",
	"jsdom",
	"nightmare",
	"cypress",
	"puppeteer",
	"playwright",
	"selenium",
	"webdriver",
}

// isAutomation reports whether ua names one of automationTokens.
func isAutomation(ua string) bool {
	for _, tok := range automationTokens {
		if containsFoldASCII(ua, tok) {
			return true
		}
	}
	return false
}

// containsFoldASCII reports whether s contains lower, comparing ASCII letters
// case-insensitively. lower must be lower-case ASCII. It exists so the check
// does not allocate a lower-cased copy of every header.
func containsFoldASCII(s, lower string) bool {
	n := len(lower)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			b := s[i+j]
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			if b != lower[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
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
