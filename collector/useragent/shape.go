package useragent

// Headers are the facts about a request's headers that Shape reads:
// presence only, never values, so that nothing of them is kept or logged.
type Headers struct {
	AcceptLanguage bool // an Accept-Language header with a value
}

// Shape is the request-shape layer: it returns BotRequestShape when a hit
// whose agent passed every other layer and names a browser lacks what
// every browser sends, else BotNone.
//
// Only Accept-Language is judged, by measurement: Chromium sends it on
// page loads, <img> pixels, fetch() and navigator.sendBeacon()
// (TestChromiumSendsAcceptLanguage), and Firefox and Safari send it on
// every request by design; Go's net/http, curl, python-requests, wget and
// older HeadlessChrome builds send none. Sec-Fetch-* headers were left
// out: browsers older than Chrome 76, Firefox 90 and Safari 16.4 lack
// them, and the agent's version is not kept to tell them apart.
func Shape(a Agent, h Headers) string {
	if a.Bot != BotNone || a.Browser == Other {
		return BotNone
	}
	if !h.AcceptLanguage {
		return BotRequestShape
	}
	return BotNone
}
