package mailclient

import (
	"strings"

	"tally/counter"
)

// Client is what an open request says about who fetched the pixel.
type Client struct {
	Name    string // e.g. "Gmail (via proxy)", "Apple Mail", "Outlook"; "" if unknown
	Machine bool   // fetched by a machine, not opened by a person
	// Class is the machine class (counter.Machine*) of a machine fetch.
	Class string
}

// Real agents of the machines and proxies recognised here (the tests send
// exactly these).
const (
	// AppleProxyAgent is Apple Mail Privacy Protection's: the bare
	// product token, nothing else.
	AppleProxyAgent = "Mozilla/5.0"
	// GmailPrefetchAgent is Gmail's delivery-time image fetcher: an old
	// Edge agent with a second product token appended, from Google's
	// addresses, for a message that arrives while its recipient has Gmail
	// open; it is not a person opening the message.
	GmailPrefetchAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0"
	// GmailProxyAgent is Gmail's image proxy, which fetches when a person
	// opens the message (and caches the image after).
	GmailProxyAgent = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
	// YahooProxyAgent is Yahoo Mail's image proxy, which fetches on open.
	YahooProxyAgent = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
)

// Classify looks for the well-known email fetchers. ok is false when the user
// agent is not one of them; the caller then uses its general classifier.
func Classify(ua string) (c Client, ok bool) {
	switch {
	case ua == AppleProxyAgent:
		// Apple Mail Privacy Protection prefetches every image through
		// Apple's proxies with this bare user agent, whether or not the
		// message is read: a machine open.
		return Client{Name: "Apple Mail (privacy proxy)", Machine: true, Class: counter.MachineApplePrivacy}, true
	case strings.HasSuffix(ua, "Edge/12.246 Mozilla/5.0"):
		return Client{Name: "Gmail (delivery prefetch)", Machine: true, Class: counter.MachineGmailPrefetch}, true
	case strings.Contains(ua, "GoogleImageProxy"):
		// Gmail fetches through its proxy when the message is opened: a
		// person's open, relayed, so the client is only "via proxy".
		return Client{Name: "Gmail (via proxy)"}, true
	case strings.Contains(ua, "YahooMailProxy"):
		return Client{Name: "Yahoo Mail (via proxy)"}, true
	case Scanner(ua):
		return Client{Name: "Security scanner", Machine: true, Class: counter.MachineScannerAgent}, true
	case strings.Contains(ua, "Microsoft Outlook"), strings.Contains(ua, "ms-office"), strings.Contains(ua, "MSOffice"):
		return Client{Name: "Outlook"}, true
	case strings.Contains(ua, "Thunderbird"):
		return Client{Name: "Thunderbird"}, true
	case strings.Contains(ua, "AppleWebKit") && !strings.Contains(ua, "Safari") &&
		(strings.Contains(ua, "Macintosh") || strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad")):
		// Apple Mail's web view: WebKit without the Safari token.
		return Client{Name: "Apple Mail"}, true
	}
	return Client{}, false
}

// scannerTokens are words in the user agents of email security gateways
// and link checkers (which also open images), none of which a browser or
// mail client sends.
var scannerTokens = []string{
	"barracuda", "proofpoint", "urldefense", "mimecast", "ironport", "ciscosecureemail", "cisco secure email",
	"safelinks", "existence discovery", "fortimail", "fortiguard", "forcepoint", "sophos", "trendmicro",
	"trend micro", "symantec", "messagelabs", "zscaler", "checkpoint", "check point", "vade secure",
	"hornetsecurity", "libraesva", "spamtitan", "urlscan", "virustotal",
}

// Scanner reports whether ua is a security scanner's, or missing (no
// browser or mail client sends none).
func Scanner(ua string) bool {
	if strings.TrimSpace(ua) == "" {
		return true
	}
	l := strings.ToLower(ua)
	for _, t := range scannerTokens {
		if strings.Contains(l, t) {
			return true
		}
	}
	return false
}
