package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Kinds of request, in the order of the report.
const (
	kindPageview = iota // POST /api/event, name "pageview"
	kindCustom          // POST /api/event, a custom event
	kindPixel           // GET /p.gif
	kindEmail           // GET /e/{site}/{campaign}.gif, signed
	kindForged          // GET /e/... with a tampered signature: answered, never counted
	numKinds
)

var kindNames = [numKinds]string{"pageview", "custom_event", "web_pixel", "email_open", "email_forged"}

// trafficConfig describes the synthetic but realistic traffic.
type trafficConfig struct {
	Seed        uint64
	Requests    int // distinct requests built; the run cycles through them
	Visitors    int // distinct (address, user agent) pairs
	HumanUAs    int // distinct human user agents sampled from crawlerdetect's devices.txt
	CrawlerUAs  int // distinct crawler user agents sampled from crawlers.txt
	CrawlerRate float64
	UAFiles     string // crawlerdetect's testdata directory
	Site        string // a site declared in the sites file
	PageHost    string // one of its hostnames
	Secret      string // the site's email secret
	Campaigns   int
	Recipients  int
	// GIFOnly renders every hit as GET /p.gif with the same headers: the
	// traffic sent to the static ceilings (nginx, bare Fiber).
	GIFOnly bool
	// Mix in percent of pageview, custom event, web pixel, email open;
	// forged opens are 2% of email opens.
	Mix [4]int
}

type visitor struct {
	ip       string
	ua       string
	crawler  bool
	consent  string // "", "granted", "denied"
	dnt, gpc bool
	lang     string
}

type traffic struct {
	reqs  [][]byte
	kinds []uint8
	// expected per kind in one pass over reqs, for the summary
	perKind    [numKinds]int
	humanUAs   int
	crawlerUAs int
	addresses  int
}

// readUAs reads the lines of a crawlerdetect test file, keeps plausible
// header values and samples n distinct ones.
func readUAs(path string, n int, rng *rand.Rand) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var all []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ua := strings.TrimSpace(sc.Text())
		if len(ua) < 10 || len(ua) > 512 || seen[ua] || !printable(ua) {
			continue
		}
		seen[ua] = true
		all = append(all, ua)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Strings(all) // independent of file order before the seeded shuffle
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	if n > len(all) {
		n = len(all)
	}
	return all[:n], nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// publicIPv4 draws a global unicast IPv4 address outside the reserved,
// private and documentation ranges. It is only ever a header value.
func publicIPv4(rng *rand.Rand) netip.Addr {
	reserved := []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.0.0.0/24"), netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("192.88.99.0/24"), netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("224.0.0.0/3"),
	}
	for {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], rng.Uint32())
		a := netip.AddrFrom4(b)
		ok := true
		for _, p := range reserved {
			if p.Contains(a) {
				ok = false
				break
			}
		}
		if ok {
			return a
		}
	}
}

// publicIPv6 draws an address in 2400::/6 (allocated to RIRs, mostly
// APNIC and RIPE): plenty of them resolve in GeoLite2.
func publicIPv6(rng *rand.Rand) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], rng.Uint64())
	binary.BigEndian.PutUint64(b[8:], rng.Uint64())
	b[0] = 0x24 | b[0]&0x03
	return netip.AddrFrom16(b)
}

// sign is pixel.Sign, reimplemented so that this module does not depend
// on the collector's; the script checks it against `collector sign-pixel`.
func sign(secret, site, campaign, recipient string, consent bool) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tally-open-v1\n" + site + "\n" + campaign + "\n" + recipient))
	if consent {
		m.Write([]byte("\n1"))
	} else {
		m.Write([]byte("\n0"))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// emailPath is pixel.EmailURL's path and query; tamper changes one
// character of the signature, as a forger would.
func emailPath(secret, site, campaign, recipient string, consent, tamper bool) string {
	q := url.Values{}
	if recipient != "" {
		q.Set("r", recipient)
	}
	if consent {
		q.Set("c", "1")
	}
	sig := sign(secret, site, campaign, recipient, consent)
	if tamper {
		alt := byte('x')
		if sig[5] == 'x' {
			alt = 'y'
		}
		sig = sig[:5] + string(alt) + sig[6:]
	}
	q.Set("s", sig)
	return "/e/" + url.PathEscape(site) + "/" + url.PathEscape(campaign) + ".gif?" + q.Encode()
}

func buildTraffic(cfg trafficConfig) (*traffic, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x10adbe4c))
	humans, err := readUAs(cfg.UAFiles+"/devices.txt", cfg.HumanUAs, rng)
	if err != nil {
		return nil, err
	}
	crawlers, err := readUAs(cfg.UAFiles+"/crawlers.txt", cfg.CrawlerUAs, rng)
	if err != nil {
		return nil, err
	}
	if len(humans) == 0 || len(crawlers) == 0 {
		return nil, fmt.Errorf("no user agents in %s", cfg.UAFiles)
	}
	langs := []string{"en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "es-ES,es;q=0.9",
		"pt-BR,pt;q=0.9,en;q=0.7", "ja,en-US;q=0.9", "en-GB,en;q=0.9", "it-IT,it;q=0.9", "nl-NL,nl;q=0.9,en;q=0.8"}

	addrs := map[string]bool{}
	visitors := make([]visitor, cfg.Visitors)
	for i := range visitors {
		v := &visitors[i]
		a := publicIPv4(rng)
		if rng.IntN(100) < 7 {
			a = publicIPv6(rng)
		}
		v.ip = a.String()
		addrs[v.ip] = true
		if rng.Float64() < cfg.CrawlerRate {
			v.crawler = true
			v.ua = crawlers[rng.IntN(len(crawlers))]
		} else {
			// Popular agents are shared by many visitors, the tail by few.
			v.ua = humans[min(int(rng.ExpFloat64()*float64(len(humans))/4), len(humans)-1)]
		}
		switch r := rng.IntN(100); {
		case r < 30:
			v.consent = "granted"
		case r < 42:
			v.consent = "denied"
		}
		v.dnt = rng.IntN(100) < 9
		v.gpc = rng.IntN(100) < 4
		v.lang = langs[rng.IntN(len(langs))]
	}

	paths := []string{"/", "/pricing", "/about", "/contact", "/blog", "/docs", "/signup", "/login", "/features", "/careers"}
	for i := 0; len(paths) < 400; i++ {
		switch i % 4 {
		case 0:
			paths = append(paths, fmt.Sprintf("/blog/%d/post-number-%d", 2020+i%6, i))
		case 1:
			paths = append(paths, fmt.Sprintf("/docs/section-%d/page-%d", i%17, i))
		case 2:
			paths = append(paths, fmt.Sprintf("/products/item-%d", i))
		default:
			paths = append(paths, fmt.Sprintf("/help/article-%d", i))
		}
	}
	pathZipf := rand.NewZipf(rng, 1.1, 2, uint64(len(paths)-1))
	referrers := []struct {
		url    string
		weight int
	}{
		{"", 38}, {"https://www.google.com/", 24}, {"https://www.bing.com/", 4}, {"https://duckduckgo.com/", 3},
		{"https://t.co/", 3}, {"https://www.facebook.com/", 4}, {"https://www.linkedin.com/", 2},
		{"https://news.ycombinator.com/", 2}, {"https://www.reddit.com/r/programming/", 2},
		{"https://github.com/", 2}, {"https://" + cfg.PageHost + "/", 10}, {"https://android-app://com.google.android.gm/", 1},
		{"https://some-blog.example.org/2024/05/a-review", 3}, {"https://search.yahoo.com/", 2},
	}
	refTotal := 0
	for _, r := range referrers {
		refTotal += r.weight
	}
	pickRef := func() string {
		n := rng.IntN(refTotal)
		for _, r := range referrers {
			if n < r.weight {
				return r.url
			}
			n -= r.weight
		}
		return ""
	}
	utms := []string{
		"utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale",
		"utm_source=twitter&utm_medium=social&utm_campaign=launch",
		"utm_source=google&utm_medium=cpc&utm_campaign=brand",
		"utm_source=partner&utm_medium=referral",
		"ref=producthunt", "page=2", "q=search+terms&sort=new",
	}
	pageURL := func() string {
		u := "https://" + cfg.PageHost + paths[pathZipf.Uint64()]
		if rng.IntN(100) < 14 {
			u += "?" + utms[rng.IntN(len(utms))]
		}
		return u
	}
	customs := []string{"Signup", "Download", "Outbound Link: Click", "File Download", "Newsletter Subscribe"}
	campaigns := make([]string, cfg.Campaigns)
	for i := range campaigns {
		campaigns[i] = fmt.Sprintf("newsletter-2026-%02d", i+1)
	}
	mailUAs := []string{
		"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
		"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.9.0",
		"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
	}

	t := &traffic{humanUAs: len(humans), crawlerUAs: len(crawlers), addresses: len(addrs)}
	mixTotal := cfg.Mix[0] + cfg.Mix[1] + cfg.Mix[2] + cfg.Mix[3]
	var b strings.Builder
	for range cfg.Requests {
		v := &visitors[rng.IntN(len(visitors))]
		kind := kindPageview
		switch n := rng.IntN(mixTotal); {
		case n < cfg.Mix[0]:
		case n < cfg.Mix[0]+cfg.Mix[1]:
			kind = kindCustom
		case n < cfg.Mix[0]+cfg.Mix[1]+cfg.Mix[2]:
			kind = kindPixel
		default:
			kind = kindEmail
			if rng.IntN(100) < 2 {
				kind = kindForged
			}
		}
		if cfg.GIFOnly {
			kind = kindPixel
		}
		page, ref := pageURL(), pickRef()
		ua := v.ua
		b.Reset()
		switch kind {
		case kindPageview, kindCustom:
			name := "pageview"
			if kind == kindCustom {
				name = customs[rng.IntN(len(customs))]
			}
			body := eventBody(rng, name, page, cfg.Site, ref, v.consent)
			b.WriteString("POST /api/event HTTP/1.1\r\n")
			commonHeaders(&b, v, ua)
			b.WriteString("Accept: */*\r\nOrigin: https://" + cfg.PageHost + "\r\nReferer: " + page + "\r\n")
			b.WriteString("Content-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
			b.WriteString(body)
		case kindPixel:
			q := url.Values{}
			q.Set("d", cfg.Site)
			if rng.IntN(100) < 70 {
				q.Set("u", page)
			}
			if ref != "" {
				q.Set("r", ref)
			}
			if v.consent != "" {
				q.Set("consent", v.consent)
			}
			b.WriteString("GET /p.gif?" + q.Encode() + " HTTP/1.1\r\n")
			commonHeaders(&b, v, ua)
			b.WriteString("Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8\r\nReferer: " + page + "\r\n\r\n")
		case kindEmail, kindForged:
			if !v.crawler && rng.IntN(100) < 45 {
				ua = mailUAs[rng.IntN(len(mailUAs))]
			}
			rcpt := ""
			if rng.IntN(100) < 92 {
				rcpt = "rc" + strconv.FormatUint(uint64(rng.IntN(cfg.Recipients))*2654435761%(1<<32), 36)
			}
			p := emailPath(cfg.Secret, cfg.Site, campaigns[rng.IntN(len(campaigns))], rcpt, rng.IntN(100) < 20, kind == kindForged)
			b.WriteString("GET " + p + " HTTP/1.1\r\n")
			commonHeaders(&b, v, ua)
			b.WriteString("Accept: image/*,*/*;q=0.8\r\n\r\n")
		}
		t.reqs = append(t.reqs, []byte(b.String()))
		t.kinds = append(t.kinds, uint8(kind))
		t.perKind[kind]++
	}
	return t, nil
}

func commonHeaders(b *strings.Builder, v *visitor, ua string) {
	b.WriteString("Host: stats.example.com\r\nUser-Agent: " + ua + "\r\nX-Forwarded-For: " + v.ip + "\r\n")
	b.WriteString("Accept-Language: " + v.lang + "\r\nAccept-Encoding: gzip, deflate, br\r\n")
	if v.dnt {
		b.WriteString("DNT: 1\r\n")
	}
	if v.gpc {
		b.WriteString("Sec-GPC: 1\r\n")
	}
}

// eventBody is a Plausible Events API body: half in the long field names,
// half in the short ones the official tracker sends.
func eventBody(rng *rand.Rand, name, page, domain, ref, consent string) string {
	q := strconv.Quote
	var s string
	if rng.IntN(2) == 0 {
		s = `{"name":` + q(name) + `,"url":` + q(page) + `,"domain":` + q(domain)
		if ref != "" {
			s += `,"referrer":` + q(ref)
		}
	} else {
		r := "null"
		if ref != "" {
			r = q(ref)
		}
		s = `{"n":` + q(name) + `,"u":` + q(page) + `,"d":` + q(domain) + `,"r":` + r + `,"w":` + strconv.Itoa(360+rng.IntN(1600))
	}
	if name != "pageview" {
		s += `,"props":{"plan":"pro","position":"footer"}`
	}
	if consent != "" {
		s += `,"consent":{"analytics":` + q(consent) + `}`
	}
	return s + "}"
}
