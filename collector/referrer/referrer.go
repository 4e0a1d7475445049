package referrer

import (
	"errors"
	"hash/maphash"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/net/publicsuffix"

	"tally/scrub"
)

// Limits on stored values: long enough for real sites, short enough that a
// counter value cannot smuggle a payload into ClickHouse.
const (
	MaxURLLen   = 2048
	MaxPathLen  = scrub.MaxPathLen
	MaxValueLen = scrub.MaxValueLen
)

// Errors for URLs the collector refuses; the caller maps them to a 4xx.
var (
	ErrURLTooLong = errors.New("url is too long")
	ErrBadURL     = errors.New("url must be an absolute http or https URL")
)

// Page is what is kept of a page URL.
type Page struct {
	Host string // lower case, without port
	// Path is the decoded path, "/" at least, no trailing slash, no query,
	// scrubbed with scrub.Path and no site rules (the site's own rules are
	// applied by the caller, which knows the site).
	Path string
	// Campaign tags from the query string, scrubbed with scrub.Value (a tag
	// holding an http(s) URL is reduced to its source, as a referrer is);
	// everything else in the query string is dropped.
	UTMSource, UTMMedium, UTMCampaign string
	// Ref is the `ref` or `source` parameter, which some sites use instead
	// of utm_source.
	Ref string
}

// ParsePage parses an absolute http(s) page URL. It gives the same result
// as net/url would (parsePageNetURL, which the tests and FuzzParsePage
// compare it with) but reads the URLs browsers send without allocating:
// only a percent-encoded path or tag, or an unusual URL that goes through
// net/url, costs allocations.
func ParsePage(raw string) (Page, error) {
	if len(raw) > MaxURLLen {
		return Page{}, ErrURLTooLong
	}
	s := strings.TrimSpace(raw)
	parts, ok := split(s)
	if !ok {
		return parsePageNetURL(s)
	}
	p := Page{Host: parts.host, Path: cleanPath(parts.path)}
	if parts.rawQuery != "" {
		var tags [numTags]string
		queryTags(parts.rawQuery, &tags)
		p.setTags(&tags)
	}
	return p, nil
}

// parsePageNetURL is ParsePage with net/url: the reference, and the way
// for URLs that split leaves to it.
func parsePageNetURL(s string) (Page, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return Page{}, ErrBadURL
	}
	p := Page{Host: strings.ToLower(u.Hostname()), Path: cleanPath(u.Path)}
	if u.RawQuery != "" {
		q, _ := url.ParseQuery(u.RawQuery) // keep what parses; a bad pair is not the visitor's fault
		tags := [numTags]string{q.Get("utm_source"), q.Get("utm_medium"), q.Get("utm_campaign"), q.Get("ref"), q.Get("source")}
		p.setTags(&tags)
	}
	return p, nil
}

// The query parameters kept, in the order of tagNames.
const (
	tagUTMSource = iota
	tagUTMMedium
	tagUTMCampaign
	tagRef
	tagSource
	numTags
)

var tagNames = [numTags]string{"utm_source", "utm_medium", "utm_campaign", "ref", "source"}

func (p *Page) setTags(t *[numTags]string) {
	p.UTMSource = cleanTag(t[tagUTMSource])
	p.UTMMedium = cleanTag(t[tagUTMMedium])
	p.UTMCampaign = cleanTag(t[tagUTMCampaign])
	p.Ref = cleanTag(t[tagRef])
	if p.Ref == "" {
		p.Ref = cleanTag(t[tagSource])
	}
}

// cleanTag scrubs a query tag. A tag holding a URL ("utm_source=
// https://alice.github.io/") would keep a personal host: it is reduced
// like a referrer.
func cleanTag(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > len("https://") && (strings.EqualFold(v[:len("http://")], "http://") || strings.EqualFold(v[:len("https://")], "https://")) {
		if host := referrerHost(v); host != "" {
			return HostSource(host) // rare: not worth the cache
		}
	}
	return scrub.Value(v)
}

// queryTags sets the first value of each tag, as url.ParseQuery followed
// by Values.Get would: pairs are separated by '&', a pair holding ';' or a
// bad escape is skipped, '+' is a space. Only an escaped key or value
// allocates.
func queryTags(query string, tags *[numTags]string) {
	var found [numTags]bool
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		key, ok := queryUnescape(key)
		if !ok {
			continue
		}
		for i, name := range tagNames {
			if key != name {
				continue
			}
			if v, ok := queryUnescape(value); ok && !found[i] {
				tags[i], found[i] = v, true
			}
			break
		}
	}
}

// queryUnescape is url.QueryUnescape, without allocating when there is
// nothing to unescape.
func queryUnescape(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	u, err := url.QueryUnescape(s)
	return u, err == nil
}

// urlParts are the parts of an absolute http(s) URL that the collector
// reads.
type urlParts struct {
	host     string // lower case, no port
	path     string // as sent: split only takes paths without escapes
	rawQuery string
}

// split reads an absolute http or https URL of the plain shape browsers
// send: lower-case scheme and host of letters, digits, dots and dashes, an
// optional numeric port, no user info, no percent escape in the path or
// fragment, no control characters. Anything else gives ok == false and
// goes through net/url, so that the result never differs from net/url's.
// split never allocates.
func split(s string) (p urlParts, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(s, "https://"):
		rest = s[len("https://"):]
	case strings.HasPrefix(s, "http://"):
		rest = s[len("http://"):]
	default:
		return p, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return p, false // net/url refuses control characters
		}
	}
	// net/url cuts the fragment first, then the query, then the path.
	rest, frag, _ := strings.Cut(rest, "#")
	if strings.IndexByte(frag, '%') >= 0 {
		return p, false // net/url checks the fragment's escapes
	}
	rest, p.rawQuery, _ = strings.Cut(rest, "?")
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	host := authority
	if i := strings.IndexByte(authority, ':'); i >= 0 {
		host = authority[:i]
		for _, c := range []byte(authority[i+1:]) {
			if c < '0' || c > '9' {
				return p, false
			}
		}
	}
	if host == "" || strings.IndexByte(path, '%') >= 0 {
		return p, false
	}
	for _, c := range []byte(host) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return p, false
		}
	}
	p.host, p.path = host, path
	return p, true
}

// Sources names where visits came from (Source). It remembers the source
// of recent referrer hosts: the public suffix lookup allocates on every
// call (it first tries the host as an IP address), and referrers repeat.
// The zero value is ready; safe for concurrent use. The pipeline keeps one
// as a field, as geo.Locator keeps its subdivision codes.
type Sources struct {
	cache sourceCache
}

// Source names where a visit came from, following Plausible's order: an
// explicit ref/utm_source tag (already scrubbed), else the referrer's host
// reduced by HostSource. Internal navigation (own host) and unusable
// referrers give "" (direct / none).
func (s *Sources) Source(p Page, rawReferrer string, ownHost func(string) bool) string {
	if p.Ref != "" {
		return p.Ref
	}
	if p.UTMSource != "" {
		return p.UTMSource
	}
	if rawReferrer == "" || len(rawReferrer) > MaxURLLen {
		return ""
	}
	host := referrerHost(rawReferrer)
	if host == "" || ownHost(host) {
		return ""
	}
	return s.cache.known(host)
}

// Arrival is what a page view's referrer says: where the visit came from,
// and whether the referrer is a page of the site itself.
type Arrival struct {
	Source string // as Source gives it
	// Internal: the referrer is a page of a host that the site owns; Path
	// is then that page's path as ParsePage reads a page's (decoded,
	// normalised, scrubbed), so that it names the same path row.
	Internal bool
	Path     string
}

// Arrive is Source, and whether the referrer is one of the site's own
// pages, from one reading of the referrer. The path of a referrer of
// another host is never looked at, nor any referrer's query.
func (s *Sources) Arrive(p Page, rawReferrer string, ownHost func(string) bool) Arrival {
	var a Arrival
	host := ""
	if rawReferrer != "" && len(rawReferrer) <= MaxURLLen {
		raw := strings.TrimSpace(rawReferrer)
		path := ""
		if parts, ok := split(raw); ok {
			host, path = parts.host, parts.path
		} else if u, err := url.Parse(raw); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			host, path = strings.ToLower(u.Hostname()), u.Path
		}
		if host != "" && ownHost(host) {
			a.Internal, a.Path, host = true, cleanPath(path), ""
		}
	}
	switch {
	case p.Ref != "":
		a.Source = p.Ref
	case p.UTMSource != "":
		a.Source = p.UTMSource
	case host != "":
		a.Source = s.cache.known(host)
	}
	return a
}

// referrerHost is the lower-case host of an http(s) referrer, or "".
func referrerHost(raw string) string {
	s := strings.TrimSpace(raw)
	if parts, ok := split(s); ok {
		return parts.host
	}
	return referrerHostNetURL(s)
}

// referrerHostNetURL is referrerHost with net/url: the reference.
func referrerHostNetURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// cleanPath normalises a decoded path ("/" for empty, no trailing slash)
// and scrubs it: valid UTF-8 without control characters, at most
// MaxPathLen bytes, identifier-shaped segments replaced.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	if p[0] != '/' {
		p = "/" + p
	}
	return scrub.Path(p, nil)
}

// exactSources maps hosts whose name says little to the product they are.
var exactSources = map[string]string{
	"t.co":                 "Twitter",
	"x.com":                "Twitter",
	"twitter.com":          "Twitter",
	"news.ycombinator.com": "Hacker News",
	"lnkd.in":              "LinkedIn",
	"youtu.be":             "YouTube",
	// AI assistants live on subdomains of brands that mean something else
	// (gemini.google.com is not Google search), so they are matched
	// before the brand: collector/channel groups them as "ai". Its table
	// holds every name given here (TestReferrerHostsKeepTheirChannel).
	"gemini.google.com":       "Gemini",
	"bard.google.com":         "Gemini",
	"notebooklm.google.com":   "NotebookLM",
	"copilot.microsoft.com":   "Copilot",
	"chatgpt.com":             "ChatGPT",
	"chat.openai.com":         "ChatGPT",
	"perplexity.ai":           "Perplexity",
	"claude.ai":               "Claude",
	"copilot.cloud.microsoft": "Copilot",
	"edgeservices.bing.com":   "Copilot", // Edge's sidebar
	"chat.deepseek.com":       "DeepSeek",
	"chat.mistral.ai":         "Mistral",
	// Search, messengers and webmail on subdomains of other products.
	"search.brave.com":      "Brave Search",
	"web.whatsapp.com":      "WhatsApp",
	"mail.google.com":       "Gmail",
	"outlook.live.com":      "Outlook.com",
	"outlook.office.com":    "Outlook.com",
	"outlook.office365.com": "Outlook.com",
	"mail.yahoo.com":        "Yahoo Mail",
	"mail.proton.me":        "Proton Mail",
	"app.fastmail.com":      "Fastmail",
	"mail.aol.com":          "AOL Mail",
	"mail.yandex.ru":        "Yandex Mail",
	"e.mail.ru":             "Mail.ru Mail",
}

// brandSources maps a registrable domain's first label to the product, so
// that every country domain (google.de, google.co.uk) and subdomain
// (l.facebook.com) folds into one source.
var brandSources = map[string]string{
	"google":     "Google",
	"bing":       "Bing",
	"duckduckgo": "DuckDuckGo",
	"yahoo":      "Yahoo!",
	"baidu":      "Baidu",
	"yandex":     "Yandex",
	"ecosia":     "Ecosia",
	"facebook":   "Facebook",
	"instagram":  "Instagram",
	"linkedin":   "LinkedIn",
	"reddit":     "Reddit",
	"youtube":    "YouTube",
	"github":     "GitHub",
	"pinterest":  "Pinterest",
	"tiktok":     "TikTok",
}

// sourceCache remembers HostSource for recent hosts: the public suffix
// lookup allocates on every call (it first tries the host as an IP
// address), and referrers repeat. It is direct-mapped, 1024 slots: a
// collision just looks the host up again. Entries hold a copy of the
// host, never the referrer URL.
// The zero value is ready: the seed is made on first use.
type sourceCache struct {
	seed  maphash.Seed
	init  sync.Once
	slots [1024]atomic.Pointer[sourceEntry]
}

type sourceEntry struct{ host, source string }

func (c *sourceCache) known(host string) string {
	c.init.Do(func() { c.seed = maphash.MakeSeed() })
	slot := &c.slots[maphash.String(c.seed, host)%uint64(len(c.slots))]
	if e := slot.Load(); e != nil && e.host == host {
		return e.source
	}
	host = strings.Clone(host)
	source := HostSource(host)
	slot.Store(&sourceEntry{host: host, source: source})
	return source
}

// HostSource is the source a referrer host (lower case, no port) is
// counted as. A host never stays as it is:
//   - a known host or brand is its name: www.google.co.uk is "Google",
//     t.co "Twitter";
//   - an IP literal is scrub.IP; localhost, a single-label host, a host
//     under a top-level domain that is not in the public suffix list
//     (.local, .internal, .lan, .corp, .test) or under home.arpa is
//     scrub.Local;
//   - any other host is its registrable domain under the ICANN section of
//     the public suffix list: blog.example.org is example.org, and a
//     personal subdomain of a shared host is the platform, whether the
//     platform is in the list's private section (alice.github.io is
//     github.io, bob.blogspot.com blogspot.com) or not (alice.substack.com
//     is substack.com).
//
// The result is scrubbed with scrub.Value. The public suffix list keeps
// google.evil.com from passing as Google.
func HostSource(host string) string {
	host = strings.TrimSuffix(host, ".")
	host = strings.TrimPrefix(host, "www.")
	if host == "" {
		return ""
	}
	if name, ok := exactSources[host]; ok {
		return name
	}
	if isIPHost(host) {
		return scrub.IP
	}
	if strings.IndexByte(host, '.') < 0 {
		return scrub.Local
	}
	suffix, icann := publicsuffix.PublicSuffix(host)
	if !icann && strings.IndexByte(suffix, '.') < 0 {
		return scrub.Local // a top-level domain nobody can register
	}
	// A private-section suffix (github.io) names a platform whose
	// subdomains are its users: climb to the ICANN suffix (io), so that the
	// registrable domain is the platform, kept by its domain (github.io
	// is not github.com).
	platform := !icann
	for !icann {
		i := strings.IndexByte(suffix, '.')
		if i < 0 {
			break
		}
		suffix = suffix[i+1:]
		if s, ok := publicsuffix.PublicSuffix(suffix); ok && s == suffix {
			icann = true
		}
	}
	if suffix == "home.arpa" {
		return scrub.Local
	}
	if len(host) <= len(suffix)+1 {
		return scrub.Value(host) // the host is itself a public suffix
	}
	rest := host[:len(host)-len(suffix)-1]
	label := rest[strings.LastIndexByte(rest, '.')+1:]
	if name, ok := brandSources[label]; ok && !platform {
		return name
	}
	return scrub.Value(host[len(rest)-len(label):])
}

// isIPHost reports whether a URL host is an IP literal: IPv6 (the only
// hosts with ':'), or a host whose last label is a number, which browsers
// read as IPv4 in any of its forms (10.20.30.40, 167772160, 0x0a.0x14...).
func isIPHost(host string) bool {
	if strings.IndexByte(host, ':') >= 0 || strings.HasPrefix(host, "[") {
		return true
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") || strings.HasPrefix(last, "0X") {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// WithFragment is path (a page's path as ParsePage gives it) followed by
// the fragment of raw, its URL, for sites with hash-based routing, where
// the fragment names the page: "https://x.com/#/about" is "/#/about",
// "https://x.com/app#/a/b?c=1" is "/app#/a/b" (a query inside the fragment
// is dropped, as a page's query is). The result is scrubbed as a path.
// Without a fragment, path is returned as it is.
func WithFragment(raw, path string) string {
	_, frag, ok := strings.Cut(strings.TrimSpace(raw), "#")
	if !ok {
		return path
	}
	frag, _, _ = strings.Cut(frag, "?")
	if strings.IndexByte(frag, '%') >= 0 {
		u, err := url.PathUnescape(frag)
		if err != nil {
			return path // as net/url: a bad escape is no fragment
		}
		frag = u
	}
	frag = strings.TrimRight(frag, "/")
	if frag == "" {
		return path
	}
	if path == "/" && frag[0] == '/' {
		path = "" // "/#/about", not "//#/about"
	}
	return cleanPath(path + "#" + frag)
}
