// Package useragent owns what the collector keeps of a User-Agent header:
// coarse device, browser family and OS family, plus a bot verdict with the
// reason a hit is filtered.
//
// The full header is never returned or stored. Versions, device models and
// build strings are fingerprinting material, so they are thrown away here,
// at the first step that sees them; only values from a fixed vocabulary leave
// the package (see the family tables in useragent.go).
//
// Parsing uses github.com/medama-io/go-useragent (a trie, sub-microsecond,
// no allocations). The bot verdict is layered; each layer has its own
// reason, the value of the "filtered" counter, and the first layer that
// matches decides:
//
//  1. ai_agent: AI crawlers, agents and assistants (our table in rules.go
//     and crawler-user-agents' "ai-crawler" entries);
//  2. automation: headless and automated browsers (rules.go; the tracker's
//     navigator.webdriver report maps here too, in the pipeline);
//  3. crawler: three maintained lists, embedded with their versions and
//     licences in lists/ (CrawlerDetect, isbot, crawler-user-agents);
//  4. not_browser: HTTP libraries and frameworks (rules.go), and what no
//     browser sends: no Mozilla/ form, a URL or an e-mail address.
//
// Two more layers need more than the header: Shape (request_shape, a
// browser's agent without Accept-Language) here, and the data-centre and
// referrer-spam layers in collector/netclass and collector/spam.
//
// Speed: the lists hold about 3,200 patterns. Instead of one alternation
// (CrawlerDetect alone cost 80-300 µs a header), each pattern is compiled
// on its own for lower-cased input and runs only when a literal all its
// matches contain occurs in the header (index.go, match.go): 5-12 µs for a
// header never seen (BenchmarkLayersFirstSight* in tools/uabench). Verdicts
// are then cached under a seeded 64-bit hash of the header, as before; the
// cache never holds the header itself, and a seen header costs the same
// 0.1-0.2 µs as before the layers.
//
// Tests pin the engine to the lists' own verdicts: CrawlerDetect's on its
// 169k-header corpus (TestCrawlerDetectEquivalent) and isbot's, computed by
// its JavaScript, on every fixture (TestIsbotAgrees). The accuracy targets
// (at least 99% of public crawler lists filtered, at most 0.1% of real
// browser agents) are TestCrawlerListsFiltered and TestBrowsersPass; the
// before/after table and the cost of each list are in tools/uabench.
package useragent
