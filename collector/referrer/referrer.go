// Package referrer turns a page URL and a referrer into the coarse dimensions
// the collector counts: path (never the query string), source and UTM tags.
package referrer

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// Limits on stored values: long enough for real sites, short enough that a
// counter value cannot smuggle a payload into ClickHouse.
const (
	MaxURLLen   = 2048
	MaxPathLen  = 512
	MaxValueLen = 100
)

// Errors for URLs the collector refuses; the caller maps them to a 4xx.
var (
	ErrURLTooLong = errors.New("url is too long")
	ErrBadURL     = errors.New("url must be an absolute http or https URL")
)

// Page is what is kept of a page URL.
type Page struct {
	Host string // lower case, without port
	Path string // decoded path, "/" at least, no trailing slash, no query
	// Campaign tags from the query string; everything else in it is dropped.
	UTMSource, UTMMedium, UTMCampaign string
	// Ref is the `ref` or `source` parameter, which some sites use instead
	// of utm_source.
	Ref string
}

// ParsePage parses an absolute http(s) page URL.
func ParsePage(raw string) (Page, error) {
	if len(raw) > MaxURLLen {
		return Page{}, ErrURLTooLong
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return Page{}, ErrBadURL
	}
	p := Page{Host: strings.ToLower(u.Hostname()), Path: cleanPath(u.Path)}
	if u.RawQuery != "" {
		q, _ := url.ParseQuery(u.RawQuery) // keep what parses; a bad pair is not the visitor's fault
		p.UTMSource = cleanValue(q.Get("utm_source"))
		p.UTMMedium = cleanValue(q.Get("utm_medium"))
		p.UTMCampaign = cleanValue(q.Get("utm_campaign"))
		p.Ref = cleanValue(q.Get("ref"))
		if p.Ref == "" {
			p.Ref = cleanValue(q.Get("source"))
		}
	}
	return p, nil
}

// Source names where a visit came from, following Plausible's order: an
// explicit ref/utm_source tag, else the referrer's host, mapped to a known
// name where one exists. Internal navigation (own host) and unusable
// referrers give "" (direct / none).
func Source(p Page, rawReferrer string, ownHost func(string) bool) string {
	if p.Ref != "" {
		return p.Ref
	}
	if p.UTMSource != "" {
		return p.UTMSource
	}
	if rawReferrer == "" || len(rawReferrer) > MaxURLLen {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(rawReferrer))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || ownHost(host) {
		return ""
	}
	return cleanValue(knownSource(host))
}

// cleanPath normalises a decoded path: "/" for empty, no trailing slash,
// valid UTF-8 without control characters, at most MaxPathLen bytes.
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
	return truncate(sanitize(p), MaxPathLen)
}

// cleanValue trims a tag or source and bounds it.
func cleanValue(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	return truncate(sanitize(v), MaxValueLen)
}

// sanitize replaces invalid UTF-8 and control characters, which have no
// place in a label a marketer reads.
func sanitize(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// exactSources maps hosts whose name says little to the product they are.
var exactSources = map[string]string{
	"t.co":                 "Twitter",
	"x.com":                "Twitter",
	"twitter.com":          "Twitter",
	"news.ycombinator.com": "Hacker News",
	"lnkd.in":              "LinkedIn",
	"youtu.be":             "YouTube",
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

// knownSource maps a referrer host to a source name; unknown hosts are
// returned without a leading "www.". The public suffix list keeps
// google.evil.com from passing as Google.
func knownSource(host string) string {
	host = strings.TrimPrefix(host, "www.")
	if name, ok := exactSources[host]; ok {
		return name
	}
	if site, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		label, _, _ := strings.Cut(site, ".")
		if name, ok := brandSources[label]; ok {
			return name
		}
	}
	return host
}
