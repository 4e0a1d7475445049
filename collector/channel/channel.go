package channel

import (
	"bytes"
	"maps"
	"slices"
	"strings"
)

// Channel is a group of sources. The values are stable: they are stored.
type Channel string

const (
	Direct   Channel = "direct"   // no referrer and no tag, or the site itself
	Search   Channel = "search"   // search engines
	Social   Channel = "social"   // social networks, forums and messengers
	Email    Channel = "email"    // newsletters and webmail
	AI       Channel = "ai"       // AI assistants and answer engines
	Paid     Channel = "paid"     // ads, by utm_medium
	Referral Channel = "referral" // any other site
)

// Order is the order channels are shown in.
var Order = []Channel{Direct, Search, Social, AI, Email, Paid, Referral}

// Describe says in words what each channel holds, for the dashboard and
// the README.
var Describe = map[Channel]string{
	Direct:   "No referrer and no campaign tag: typed or bookmarked addresses, apps that hide the referrer.",
	Search:   "Search engines: " + names(Search) + ".",
	Social:   "Social networks, forums and messengers: " + names(Social) + ".",
	AI:       "AI assistants and answer engines: " + names(AI) + ".",
	Email:    "utm_medium " + strings.Join(emailMedia, ", ") + ", or a webmail: " + names(Email) + ".",
	Paid:     "utm_medium " + strings.Join(paidMedia, ", ") + ".",
	Referral: "Every other site that linked here.",
}

// sources is the one table of the grouping: a source name (as
// collector/referrer names it) or a host, lower case, to its channel. A
// host also matches its subdomains ("l.facebook.com" is "facebook.com").
var sources = map[string]Channel{
	// AI assistants. ChatGPT adds utm_source=chatgpt.com to the links it
	// shows, so that value arrives as the source even without a referrer.
	"chatgpt": AI, "chatgpt.com": AI, "chat.openai.com": AI, "openai.com": AI,
	"perplexity": AI, "perplexity.ai": AI,
	"gemini": AI, "gemini.google.com": AI, "bard.google.com": AI,
	"copilot": AI, "copilot.microsoft.com": AI, "copilot.cloud.microsoft": AI, "edgeservices.bing.com": AI,
	"claude": AI, "claude.ai": AI,
	"deepseek": AI, "chat.deepseek.com": AI,
	"mistral": AI, "chat.mistral.ai": AI,
	"meta.ai": AI, "grok": AI, "grok.com": AI,
	"you.com": AI, "phind.com": AI, "poe.com": AI, "kagi assistant": AI,
	"notebooklm": AI, "notebooklm.google.com": AI, "huggingface.co": AI,

	// Search engines.
	"google": Search, "bing": Search, "duckduckgo": Search, "yahoo!": Search, "yahoo": Search,
	"baidu": Search, "yandex": Search, "ecosia": Search, "qwant.com": Search, "startpage.com": Search,
	"search.brave.com": Search, "brave search": Search, "kagi.com": Search, "naver.com": Search, "seznam.cz": Search,
	"sogou.com": Search, "so.com": Search, "ask.com": Search, "aol.com": Search, "search.yahoo.com": Search,
	"google.com": Search, "bing.com": Search, "duckduckgo.com": Search, "ecosia.org": Search,

	// Social networks, forums, messengers.
	"twitter": Social, "facebook": Social, "instagram": Social, "linkedin": Social, "reddit": Social,
	"youtube": Social, "pinterest": Social, "tiktok": Social, "hacker news": Social,
	"t.co": Social, "x.com": Social, "facebook.com": Social, "instagram.com": Social, "linkedin.com": Social,
	"reddit.com": Social, "youtube.com": Social, "pinterest.com": Social, "tiktok.com": Social,
	"news.ycombinator.com": Social, "bsky.app": Social, "threads.net": Social, "threads.com": Social,
	"mastodon.social": Social, "t.me": Social, "telegram.org": Social, "web.whatsapp.com": Social, "whatsapp": Social,
	"vk.com": Social, "quora.com": Social, "discord.com": Social, "lobste.rs": Social, "tumblr.com": Social,
	"weibo.com": Social, "snapchat.com": Social,

	// Webmail: a link followed from a mail read in the browser.
	"mail.google.com": Email, "outlook.live.com": Email, "outlook.office.com": Email,
	"outlook.office365.com": Email, "mail.yahoo.com": Email, "mail.proton.me": Email,
	"app.fastmail.com": Email, "mail.aol.com": Email, "mail.yandex.ru": Email, "e.mail.ru": Email,
	// The names collector/referrer gives those hosts.
	"gmail": Email, "outlook.com": Email, "yahoo mail": Email, "proton mail": Email, "fastmail": Email,
	"aol mail": Email, "yandex mail": Email, "mail.ru mail": Email,
}

// Campaign media that decide the channel whatever the source.
var (
	emailMedia = []string{"email", "e-mail", "e_mail", "newsletter", "mail"}
	paidMedia  = []string{"cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-social", "paid_social", "paidsocial", "display", "banner", "cpm", "retargeting"}
)

// Of returns the channel of a visit from its source and utm_medium. An
// email medium wins over the source (a newsletter link tagged
// utm_source=chatgpt.com is still email); an AI source wins over a paid
// medium.
func Of(source, medium string) Channel {
	source = strings.TrimSpace(source)
	medium = strings.TrimSpace(medium)
	if source == "" && medium == "" {
		return Direct
	}
	if oneOf(medium, emailMedia) {
		return Email
	}
	ch, known := lookup(source)
	if known && ch == AI {
		return AI
	}
	if oneOf(medium, paidMedia) {
		return Paid
	}
	if known {
		return ch
	}
	return Referral
}

func oneOf(medium string, media []string) bool {
	for _, m := range media {
		if strings.EqualFold(medium, m) {
			return true
		}
	}
	return false
}

// lookup finds source, then each domain it belongs to, in the table. It
// lower-cases into a stack buffer, so that a page view does not allocate
// for its channel (sources such as "Google" are capitalised).
func lookup(source string) (Channel, bool) {
	var buf [128]byte
	b := append(buf[:0], source...) // on the heap only past 128 bytes
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	b = bytes.TrimPrefix(b, []byte("www."))
	for len(b) > 0 {
		if ch, ok := sources[string(b)]; ok { // no copy: a map index
			return ch, true
		}
		i := bytes.IndexByte(b, '.')
		if i < 0 || bytes.IndexByte(b[i+1:], '.') < 0 {
			return "", false // stop at the registrable part: "com" alone says nothing
		}
		b = b[i+1:]
	}
	return "", false
}

// names lists the table's entries of one channel, for Describe.
func names(ch Channel) string {
	var out []string
	for _, k := range sortedKeys() {
		if sources[k] == ch {
			out = append(out, k)
		}
	}
	return strings.Join(out, ", ")
}

func sortedKeys() []string {
	keys := slices.Collect(maps.Keys(sources))
	slices.Sort(keys) // a stable description
	return keys
}
