package pixel

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
)

// Claims are what an email-open URL asserts. All of it is signed.
type Claims struct {
	Site      string
	Campaign  string
	Recipient string // opaque per-recipient token; "" for campaign-level counting only
	// Consent is the recipient's consent bit, set by the email system; it
	// decides de-duplication for strict-mode sites.
	Consent bool
}

// sigLen is the signature length in bytes (128 bits of HMAC-SHA256): far
// beyond guessing, short enough for an email.
const sigLen = 16

// Sign returns the URL-safe signature of c under the site's secret.
func Sign(secret []byte, c Claims) string {
	var out [32]byte
	return sigEncoding.EncodeToString(mac(secret, c, out[:0])[:sigLen])
}

// sigEncoding is strict: the unused low bits of the last character must be
// zero, so that Sign's output is the only string that verifies.
var sigEncoding = base64.RawURLEncoding.Strict()

// Verify reports whether sig is c's signature under secret, in constant time.
// Claims whose site or campaign holds a newline never verify: the MAC's
// encoding separates fields with newlines, and only the last variable
// field (the recipient) may contain them without ambiguity.
func Verify(secret []byte, c Claims, sig string) bool {
	if len(secret) == 0 || len(sig) != sigEncoding.EncodedLen(sigLen) ||
		strings.ContainsRune(c.Site, '\n') || strings.ContainsRune(c.Campaign, '\n') {
		return false
	}
	var got [sigLen]byte
	if n, err := sigEncoding.Decode(got[:], []byte(sig)); err != nil || n != sigLen {
		return false
	}
	var out [32]byte
	return hmac.Equal(got[:], mac(secret, c, out[:0])[:sigLen])
}

// mac is HMAC-SHA256 over a versioned, unambiguous encoding of the claims:
// fields are separated by newlines, which none of them may contain.
func mac(secret []byte, c Claims, out []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("tally-open-v1\n"))
	m.Write([]byte(c.Site))
	m.Write([]byte{'\n'})
	m.Write([]byte(c.Campaign))
	m.Write([]byte{'\n'})
	m.Write([]byte(c.Recipient))
	if c.Consent {
		m.Write([]byte("\n1"))
	} else {
		m.Write([]byte("\n0"))
	}
	return m.Sum(out)
}

// EmailURL builds a signed email-open pixel URL under base (the collector's
// public origin, e.g. https://stats.example.com). Email systems written in Go
// call this; others run `collector sign-pixel` or reimplement Sign.
func EmailURL(base string, secret []byte, c Claims) string {
	q := url.Values{}
	if c.Recipient != "" {
		q.Set("r", c.Recipient)
	}
	if c.Consent {
		q.Set("c", "1")
	}
	q.Set("s", Sign(secret, c))
	return strings.TrimRight(base, "/") + "/e/" + url.PathEscape(c.Site) + "/" +
		url.PathEscape(c.Campaign) + ".gif?" + q.Encode()
}
