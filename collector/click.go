package collector

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/collector/ingest"
	"tally/pixel"
	"tally/sites"
)

// emailClickRoute is the click links' route (pixel.ClickURL builds them).
const emailClickRoute = "/l/:site/:campaign/:label"

// maxLinks bounds a link's signed link count: no message has more.
const maxLinks = 10_000

// A link always leads somewhere, whatever happened: to its signed
// destination when the signature verifies (counted or not: a click over
// the rate limit or a memory bound still lands), and otherwise to the
// site's home page, https://<domain>/, never to an address taken from the
// request. A link of an unknown site answers a small page instead. What
// was counted shows in metrics only, as for pixels.

// linkVerdict is what a click URL turned out to be.
type linkVerdict uint8

const (
	linkUnknownSite linkVerdict = iota
	linkInvalid                 // unsigned, tampered, unknown key, malformed
	linkExpired
	linkValid
)

// parsedLink is a click URL as read: the claims, the site and the verdict.
// Its strings point into the request's buffers: read them during the
// request only.
type parsedLink struct {
	link    pixel.Link
	site    *sites.Site
	verdict linkVerdict
}

// parseLink reads and verifies a click URL:
// /l/{site}/{campaign}/{label}?u=DEST&r=RECIPIENT&c=1&k=KEY&x=EXPIRES&n=LINKS&h=1&s=SIGNATURE.
func (s *server) parseLink(c *fiber.Ctx) parsedLink {
	site, ok := s.opts.Sites.Lookup(c.Params("site"))
	if !ok {
		return parsedLink{}
	}
	p := parsedLink{site: site, verdict: linkInvalid}
	l := pixel.Link{
		Site:        site.Domain,
		Campaign:    c.Params("campaign"),
		Label:       c.Params("label"),
		Destination: c.Query("u"),
		Recipient:   c.Query("r"),
		Consent:     c.Query("c") == "1",
		KeyID:       c.Query("k"),
		Honeypot:    c.Query("h") == "1",
	}
	// Numbers as signed: decimal, positive; absent means 0.
	if v := c.Query("x"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return p
		}
		l.Expires = n
	}
	if v := c.Query("n"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxLinks {
			return p
		}
		l.Links = n
	}
	secret, ok := site.VerifyingKey(l.KeyID)
	if !ok || !s.keys.key(secret).VerifyLink(l, c.Query("s")) {
		return p
	}
	p.link = l
	// Checked after the signature, so that the expiry cannot be forged
	// away.
	if l.Expired(time.Now().Unix()) {
		p.verdict = linkExpired
		return p
	}
	p.verdict = linkValid
	return p
}

// emailClick is GET (and HEAD) of a click link: counted when valid, and
// answered by follow whatever happened.
func (s *server) emailClick(c *fiber.Ctx) error {
	p := s.parseLink(c)
	o, err := s.countClick(c, p)
	return s.respond(c, kindEmailClick, o, err, func(c *fiber.Ctx) error { return s.follow(c, p) })
}

func (s *server) countClick(c *fiber.Ctx, p parsedLink) (ingest.Outcome, error) {
	switch p.verdict {
	case linkUnknownSite:
		return "", errPixelUnknownSite
	case linkInvalid:
		return ingest.Unsigned, nil
	case linkExpired:
		return ingest.Expired, nil
	}
	client, err := s.client(c)
	if err != nil {
		return "", err
	}
	return s.opts.Pipeline.EmailClick(ingest.Click{
		Site:             p.site,
		Campaign:         strings.Clone(p.link.Campaign), // counter rows keep them
		Label:            strings.Clone(p.link.Label),
		Destination:      p.link.Destination, // only its host and path are kept, copied
		Recipient:        p.link.Recipient,   // only hashed
		RecipientConsent: p.link.Consent,
		Links:            p.link.Links,
		Honeypot:         p.link.Honeypot,
		Head:             c.Method() == fiber.MethodHead,
	}, client)
}

// followLink answers a click link without counting it (over the rate
// limit).
func (s *server) followLink(c *fiber.Ctx) error { return s.follow(c, s.parseLink(c)) }

// follow answers a click: the signed destination, or the site's home
// page, or for an unknown site a page that says the link is not valid.
// The answer is never cached (every click must reach us) and sends no
// Referer onwards: the link's URL carries the recipient token, which the
// destination must not see.
func (s *server) follow(c *fiber.Ctx, p parsedLink) error {
	c.Set(fiber.HeaderCacheControl, "no-store, max-age=0")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set("X-Robots-Tag", "noindex, nofollow")
	switch p.verdict {
	case linkValid:
		return c.Redirect(p.link.Destination, fiber.StatusFound)
	case linkUnknownSite:
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Status(fiber.StatusNotFound).SendString(invalidLinkPage)
	}
	return c.Redirect(safePage(p.site), fiber.StatusFound)
}

// safePage is where a link that cannot be followed leads: the site's own
// home page, made from its declared domain only.
func safePage(site *sites.Site) string { return "https://" + site.Domain + "/" }

const invalidLinkPage = `<!doctype html><meta charset="utf-8"><title>Link not valid</title>` +
	`<p>This link is not valid. Please use the links of the original message.</p>`

// followSafe answers a click after a panic: the site's home page when the
// site is known, without reading anything else of the request.
func (s *server) followSafe(c *fiber.Ctx) error {
	site, ok := s.opts.Sites.Lookup(c.Params("site"))
	if !ok {
		return s.follow(c, parsedLink{})
	}
	return s.follow(c, parsedLink{site: site, verdict: linkInvalid})
}
