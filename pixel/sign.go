package pixel

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Claims are what an email-open URL asserts. All of it is signed.
type Claims struct {
	Site      string
	Campaign  string
	Recipient string // opaque per-recipient token; "" for campaign-level counting only
	// Consent is the recipient's consent bit, set by the email system; it
	// decides de-duplication for strict-mode sites.
	Consent bool
	// KeyID names the site key that signs (the URL's k=), so that a site
	// can hold several keys while it rotates them. "" is the site's
	// unversioned email_secret.
	KeyID string
	// Expires, in unix seconds, ends counting (the URL's x=); after it the
	// GIF is still served but the open is not counted. 0: never.
	Expires int64
}

// v2 reports whether c is signed with the v2 encoding, which covers the
// key id and the expiry. URLs with neither keep the v1 encoding, so that
// every URL already sent keeps verifying.
func (c Claims) v2() bool { return c.KeyID != "" || c.Expires != 0 }

// Expired reports whether the claims' expiry has passed at now (unix
// seconds).
func (c Claims) Expired(now int64) bool { return c.Expires != 0 && now >= c.Expires }

// ValidKeyID reports whether id can name a key: 1 to 32 letters, digits,
// '-' or '_' (it sits in the URL and the MAC's encoding unescaped).
func ValidKeyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sigLen is the signature length in bytes (128 bits of HMAC-SHA256): far
// beyond guessing, short enough for an email.
const sigLen = 16

// Sign returns the URL-safe signature of c under the site's secret.
func Sign(secret []byte, c Claims) string { return NewKey(secret).Sign(c) }

// Verify reports whether sig is c's signature under secret, in constant time.
// Claims whose site or campaign holds a newline never verify: the MAC's
// encoding separates fields with newlines, and only the last variable
// field (the recipient) may contain them without ambiguity.
func Verify(secret []byte, c Claims, sig string) bool { return NewKey(secret).Verify(c, sig) }

// sigEncoding is strict: the unused low bits of the last character must be
// zero, so that Sign's output is the only string that verifies.
var sigEncoding = base64.RawURLEncoding.Strict()

// Key signs and verifies with one site's secret. It keeps keyed HMAC
// states for reuse: hmac.New allocates five objects and hashes both key
// pads again on every call, the largest cost of an email open before.
// Safe for concurrent use.
type Key struct {
	secret []byte
	macs   sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash // keyed with the secret; Reset restores the keyed state
	buf []byte    // the encoded claims, reused
	out [sha256.Size]byte
}

// NewKey prepares secret (copied) for signing and verifying.
func NewKey(secret []byte) *Key {
	k := &Key{secret: bytes.Clone(secret)}
	k.macs.New = func() any { return &macState{h: hmac.New(sha256.New, k.secret)} }
	return k
}

// Sign returns the URL-safe signature of c.
func (k *Key) Sign(c Claims) string {
	m := k.mac(c)
	defer k.macs.Put(m)
	return sigEncoding.EncodeToString(m.out[:sigLen])
}

// Verify reports whether sig is c's signature, in constant time (see the
// package-level Verify).
func (k *Key) Verify(c Claims, sig string) bool {
	if len(k.secret) == 0 || len(sig) != sigEncoding.EncodedLen(sigLen) ||
		strings.ContainsRune(c.Site, '\n') || strings.ContainsRune(c.Campaign, '\n') ||
		c.KeyID != "" && !ValidKeyID(c.KeyID) || c.Expires < 0 {
		return false
	}
	var got [sigLen]byte
	if n, err := sigEncoding.Decode(got[:], []byte(sig)); err != nil || n != sigLen {
		return false
	}
	m := k.mac(c)
	defer k.macs.Put(m)
	return hmac.Equal(got[:], m.out[:sigLen])
}

// mac computes HMAC-SHA256 over a versioned, unambiguous encoding of the
// claims into a pooled state's out: fields are separated by newlines,
// which only the recipient may contain, and it is the last variable field.
//
//	v1: "tally-open-v1\n" site "\n" campaign "\n" recipient "\n" consent
//	v2: "tally-open-v2\n" key-id "\n" expires "\n" site "\n" campaign "\n" consent "\n" recipient
//
// consent is "1" or "0", expires decimal unix seconds ("0": never). The
// caller puts the state back.
func (k *Key) mac(c Claims) *macState {
	m := k.macs.Get().(*macState)
	consent := byte('0')
	if c.Consent {
		consent = '1'
	}
	var b []byte
	if c.v2() {
		b = append(m.buf[:0], "tally-open-v2\n"...)
		b = append(b, c.KeyID...)
		b = append(b, '\n')
		b = strconv.AppendInt(b, c.Expires, 10)
		b = append(b, '\n')
		b = append(b, c.Site...)
		b = append(b, '\n')
		b = append(b, c.Campaign...)
		b = append(b, '\n', consent, '\n')
		b = append(b, c.Recipient...)
	} else {
		b = append(m.buf[:0], "tally-open-v1\n"...)
		b = append(b, c.Site...)
		b = append(b, '\n')
		b = append(b, c.Campaign...)
		b = append(b, '\n')
		b = append(b, c.Recipient...)
		b = append(b, '\n', consent)
	}
	m.sum(b)
	return m
}

// sum computes the MAC of b, the encoded claims in the state's buffer,
// into out.
func (m *macState) sum(b []byte) {
	m.h.Reset()
	m.h.Write(b)
	m.h.Sum(m.out[:0])
	// The claims hold a recipient token: do not keep it in the pool.
	clear(b)
	m.buf = b[:0]
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
	if c.KeyID != "" {
		q.Set("k", c.KeyID)
	}
	if c.Expires != 0 {
		q.Set("x", strconv.FormatInt(c.Expires, 10))
	}
	q.Set("s", Sign(secret, c))
	return strings.TrimRight(base, "/") + "/e/" + url.PathEscape(c.Site) + "/" +
		url.PathEscape(c.Campaign) + ".gif?" + q.Encode()
}
