package pixel

import (
	"errors"
	"html"
	"net/url"
	"strconv"
	"strings"

	"crypto/hmac"
)

// Link is what a click URL asserts. All of it is signed, the destination
// included, so that the collector redirects only where the email system
// meant: it is never an open redirect.
type Link struct {
	Site     string
	Campaign string
	// Label names the link in reports ("cta", "footer-logo"): 1 to 100
	// letters, digits, '.', '_' or '-' (see ValidLabel).
	Label string
	// Destination is the absolute http or https URL the click lands on
	// (see ValidDestination). Its query string reaches the browser and is
	// never counted or logged.
	Destination string
	Recipient   string // opaque per-recipient token; "" for campaign-level counting only
	// Consent is the recipient's consent bit, as for Claims.
	Consent bool
	KeyID   string // as for Claims
	Expires int64  // unix seconds; after it the link leads to the site's home page. 0: never.
	// Links is the number of tracked links in the message, the honeypot
	// not included (0: not told). A security scanner follows all of them
	// within seconds; knowing how many makes "all" exact.
	Links int
	// Honeypot marks the hidden link that no person sees (HoneypotHTML):
	// whatever follows it is a machine.
	Honeypot bool
}

// Expired reports whether the link's expiry has passed at now (unix
// seconds).
func (l Link) Expired(now int64) bool { return l.Expires != 0 && now >= l.Expires }

// MaxDestinationLen bounds a destination URL: the longest that every mail
// client and browser carries intact.
const MaxDestinationLen = 2000

// Errors of ValidDestination and ClickURL.
var (
	ErrDestination = errors.New("destination must be an absolute http:// or https:// URL with a host, no user name or password, and only printable ASCII (at most 2000 bytes)")
	ErrLabel       = errors.New("link label must be 1 to 100 letters, digits, '.', '_' or '-'")
	ErrLinkClaims  = errors.New("site and campaign must be set and hold no newline, the key id must be valid, expiry and link count must not be negative")
)

// ValidLabel reports whether s can name a link: short and URL-safe, so it
// sits in the link's path unescaped and in reports as it is.
func ValidLabel(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidDestination checks that dest can be signed: it starts with the
// lower-case scheme http:// or https:// (so the scheme a browser reads is
// the one signed), has a host, carries no user information (the
// "https://bank.example@evil.example" trick), and holds only printable
// ASCII without spaces or backslashes (which browsers read as '/', a
// reading other parsers do not share). Everything else is percent-encoded
// by whoever builds the URL.
func ValidDestination(dest string) error {
	if len(dest) > MaxDestinationLen || !strings.HasPrefix(dest, "https://") && !strings.HasPrefix(dest, "http://") {
		return ErrDestination
	}
	for i := 0; i < len(dest); i++ {
		if c := dest[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return ErrDestination
		}
	}
	u, err := url.Parse(dest)
	if err != nil || u.Opaque != "" || u.User != nil || u.Hostname() == "" ||
		u.Scheme != "http" && u.Scheme != "https" {
		return ErrDestination
	}
	return nil
}

// check reports whether l can be signed and verified.
func (l Link) check() error {
	switch {
	case l.Site == "" || l.Campaign == "" || strings.ContainsRune(l.Site, '\n') || strings.ContainsRune(l.Campaign, '\n'),
		l.KeyID != "" && !ValidKeyID(l.KeyID), l.Expires < 0, l.Links < 0:
		return ErrLinkClaims
	case !ValidLabel(l.Label):
		return ErrLabel
	}
	return ValidDestination(l.Destination)
}

// SignLink returns the URL-safe signature of l. It signs whatever it is
// given; ClickURL checks l first.
func (k *Key) SignLink(l Link) string {
	m := k.linkMAC(l)
	defer k.macs.Put(m)
	return sigEncoding.EncodeToString(m.out[:sigLen])
}

// VerifyLink reports whether sig is l's signature, in constant time. A
// link that ClickURL would refuse to sign never verifies.
func (k *Key) VerifyLink(l Link, sig string) bool {
	if len(k.secret) == 0 || len(sig) != sigEncoding.EncodedLen(sigLen) || l.check() != nil {
		return false
	}
	var got [sigLen]byte
	if n, err := sigEncoding.Decode(got[:], []byte(sig)); err != nil || n != sigLen {
		return false
	}
	m := k.linkMAC(l)
	defer k.macs.Put(m)
	return hmac.Equal(got[:], m.out[:sigLen])
}

// linkMAC computes HMAC-SHA256 over the link's encoding:
//
//	"tally-click-v1\n" key-id "\n" expires "\n" site "\n" campaign "\n" label "\n"
//	links "\n" honeypot "\n" consent "\n" destination "\n" recipient
//
// expires and links are decimal ("0": never, not told), honeypot and
// consent "1" or "0". Only the recipient, the last field, may contain a
// newline. The caller puts the state back.
func (k *Key) linkMAC(l Link) *macState {
	m := k.macs.Get().(*macState)
	bit := func(v bool) byte {
		if v {
			return '1'
		}
		return '0'
	}
	b := append(m.buf[:0], "tally-click-v1\n"...)
	b = append(b, l.KeyID...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, l.Expires, 10)
	b = append(b, '\n')
	b = append(b, l.Site...)
	b = append(b, '\n')
	b = append(b, l.Campaign...)
	b = append(b, '\n')
	b = append(b, l.Label...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, int64(l.Links), 10)
	b = append(b, '\n', bit(l.Honeypot), '\n', bit(l.Consent), '\n')
	b = append(b, l.Destination...)
	b = append(b, '\n')
	b = append(b, l.Recipient...)
	m.sum(b)
	return m
}

// LinkPath is the collector's route of click links, for ClickURL and the
// collector's router.
const LinkPath = "/l/"

// ClickURL builds a signed click link under base (the collector's public
// origin): base/l/SITE/CAMPAIGN/LABEL?u=DESTINATION&…&s=SIGNATURE. Email
// systems written in Go call this; others run `collector sign-link` or
// follow the recipe in the README (test vectors in testdata/vectors.json).
func ClickURL(base string, secret []byte, l Link) (string, error) {
	if err := l.check(); err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set("u", l.Destination)
	if l.Recipient != "" {
		q.Set("r", l.Recipient)
	}
	if l.Consent {
		q.Set("c", "1")
	}
	if l.KeyID != "" {
		q.Set("k", l.KeyID)
	}
	if l.Expires != 0 {
		q.Set("x", strconv.FormatInt(l.Expires, 10))
	}
	if l.Links != 0 {
		q.Set("n", strconv.Itoa(l.Links))
	}
	if l.Honeypot {
		q.Set("h", "1")
	}
	q.Set("s", NewKey(secret).SignLink(l))
	return strings.TrimRight(base, "/") + LinkPath + url.PathEscape(l.Site) + "/" +
		url.PathEscape(l.Campaign) + "/" + l.Label + "?" + q.Encode(), nil
}

// HoneypotHTML is the markup of a honeypot link (a Link with Honeypot set,
// signed by ClickURL): an anchor with no text, hidden from people in every
// mail client (display:none, and mso-hide for Outlook's Word engine) and
// from screen readers and keyboards, which scanners that follow every href
// still follow. Put it anywhere in the HTML part of the message.
func HoneypotHTML(clickURL string) string {
	return `<a href="` + html.EscapeString(clickURL) + `" style="display:none !important;mso-hide:all;font-size:0;line-height:0;max-height:0;max-width:0;overflow:hidden;opacity:0" aria-hidden="true" tabindex="-1"></a>`
}
