package collector

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/collector/language"
)

// client builds the pipeline's view of the requester: the client address
// (through the trusted-proxy rules), the user agent and the privacy
// headers. The error is clientip.ErrInvalidForwarded when a trusted proxy
// sent a malformed forwarded header; its text never contains the header.
func (s *server) client(c *fiber.Ctx) (ingest.Client, error) {
	ip, err := clientAddr(c, s.opts.Proxies)
	if err != nil {
		return ingest.Client{}, err
	}
	cl := ingest.Client{
		IP: ip,
		// Not copied out of fasthttp's header buffer: the pipeline only
		// hashes and classifies it during this request, and nothing keeps it
		// (the classifier caches a hash of it, uniques an HMAC). Not copying
		// also leaves no copy of it on the heap.
		UserAgent: c.Get(fiber.HeaderUserAgent),
		GPC:       c.Get("Sec-GPC") == "1",
		DNT:       c.Get("DNT") == "1",
		Prefetch:  isPrefetch(c),
		// Presence only, for the request-shape layer.
		AcceptLanguage: c.Get(fiber.HeaderAcceptLanguage) != "",
	}
	// A constant of language's table: nothing else of the header is kept.
	cl.Language = language.Primary(c.Get(fiber.HeaderAcceptLanguage))
	return cl, nil
}

// clientAddr is the client address through the trusted-proxy rules; see
// client for the error.
func clientAddr(c *fiber.Ctx, proxies *clientip.Resolver) (netip.Addr, error) {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return proxies.Resolve(peer.Unmap(), forwardedFor(c), c.Get("X-Real-IP"))
}

// forwardedFor joins every X-Forwarded-For line: a proxy may add its own
// line instead of appending to the one it received, and the nearest hops,
// the ones we can trust, are in the last line.
func forwardedFor(c *fiber.Ctx) string {
	lines := c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)
	switch len(lines) {
	case 0:
		return ""
	case 1:
		// Not copied: the resolver only reads it, like every c.Get value.
		return utils.UnsafeString(lines[0])
	}
	return string(bytes.Join(lines, []byte(", ")))
}

// isPrefetch recognises speculative loads, which are not page views.
func isPrefetch(c *fiber.Ctx) bool {
	for _, h := range [...]string{"Sec-Purpose", "Purpose", "X-Moz", "X-Purpose"} {
		if v := c.Get(h); v != "" && (strings.Contains(v, "prefetch") || strings.Contains(v, "preview")) {
			return true
		}
	}
	return false
}
