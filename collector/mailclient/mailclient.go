package mailclient

import "strings"

// Client is what an open request says about who fetched the pixel.
type Client struct {
	Name    string // e.g. "Gmail", "Apple Mail", "Outlook"; "" if unknown
	Machine bool   // fetched by a machine, not opened by a person
}

// Classify looks for the well-known email fetchers. ok is false when the user
// agent is not one of them; the caller then uses its general classifier.
func Classify(ua string) (c Client, ok bool) {
	switch {
	case ua == "Mozilla/5.0":
		// Apple Mail Privacy Protection prefetches every image through
		// Apple's proxies with this bare user agent, whether or not the
		// message is read: a machine open.
		return Client{Name: "Apple Mail (privacy proxy)", Machine: true}, true
	case strings.Contains(ua, "GoogleImageProxy"):
		// Gmail fetches through its proxy when the message is opened.
		return Client{Name: "Gmail"}, true
	case strings.Contains(ua, "YahooMailProxy"):
		return Client{Name: "Yahoo Mail"}, true
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
