package collector

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/collector/consent"
	"tally/collector/ingest"
	"tally/collector/visits"
	"tally/pixel"
)

// own copies a and b into one new string and returns the two halves, so
// that keeping both costs one allocation.
func own(a, b string) (string, string) {
	var sb strings.Builder
	sb.Grow(len(a) + len(b))
	sb.WriteString(a)
	sb.WriteString(b)
	s := sb.String()
	return s[:len(a)], s[len(a):]
}

// The pixel routes, also used to recognise them in middleware.
const (
	webPixelRoute   = "/p.gif"
	emailPixelRoute = "/e/:site/:file"
)

// A pixel answers the same image whatever happened: a page or an email
// must never show a broken image, and the answer must not tell a sender of
// forged or malformed URLs what was wrong. What was counted shows in
// metrics only. These errors are therefore counted as "invalid" and never
// shown.
var (
	errPixelUnknownSite = errors.New("unknown site")
	errNotGIF           = errors.New("pixel path must end in .gif")
)

// sendPixel answers with the pixel. It never fails: the status is always 200.
func (s *server) sendPixel(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "image/gif")
	// no-store: every view must reach us; a cached pixel is an uncounted view.
	c.Set(fiber.HeaderCacheControl, "no-store, no-cache, must-revalidate, max-age=0")
	c.Set(fiber.HeaderPragma, "no-cache")
	c.Set("Expires", "0")
	c.Set("Cross-Origin-Resource-Policy", "cross-origin")
	return c.Status(fiber.StatusOK).Send(s.gif)
}

// webPixel is GET /p.gif?d=DOMAIN[&u=URL][&r=REFERRER][&consent=granted|denied][&gdpr_consent=TCF].
// Without u, the page is the Referer header: the page that embeds the <img>.
func (s *server) webPixel(c *fiber.Ctx) error {
	o, err := s.countWebPixel(c)
	return s.respond(c, kindWebPixel, o, err, nil)
}

func (s *server) countWebPixel(c *fiber.Ctx) (ingest.Outcome, error) {
	site, ok := s.opts.Sites.Lookup(c.Query("d"))
	if !ok {
		return "", errPixelUnknownSite
	}
	state, err := consent.ParseState(c.Query("consent"))
	if err != nil {
		return "", err
	}
	client, err := s.client(c)
	if err != nil {
		return "", err
	}
	page := c.Query("u")
	if page == "" {
		page = c.Get(fiber.HeaderReferer)
	}
	// An <img> cannot know the page's referrer: only a pixel URL that
	// carries r= (even empty) tells the visit counters anything.
	hasRef := c.Request().URI().QueryArgs().Has("r")
	// The URL and referrer are copied, in one allocation: fasthttp reuses
	// its buffer after the handler, and counter rows keep parts of both.
	// The TCF string is only read during the call (see ingest.Event).
	url, ref := own(page, c.Query("r"))
	return s.opts.Pipeline.Event(ingest.Event{
		Site:     site,
		Name:     ingest.PageviewName,
		URL:      url,
		Referrer: ref,
		Consent:  consent.Signals{Analytics: state, TCF: c.Query("gdpr_consent")},
		Visit:    visits.Hit{NoReferrer: !hasRef},
	}, client)
}

// emailPixel is GET /e/{site}/{campaign}.gif?r=RECIPIENT&c=1&k=KEY&x=EXPIRES&s=SIGNATURE.
// An unsigned, tampered, unknown-key or expired URL gets the same GIF and
// counts nothing.
func (s *server) emailPixel(c *fiber.Ctx) error {
	o, err := s.countEmailOpen(c)
	return s.respond(c, kindEmailPixel, o, err, nil)
}

func (s *server) countEmailOpen(c *fiber.Ctx) (ingest.Outcome, error) {
	site, ok := s.opts.Sites.Lookup(c.Params("site"))
	if !ok {
		return "", errPixelUnknownSite
	}
	campaign, ok := strings.CutSuffix(c.Params("file"), ".gif")
	if !ok {
		return "", errNotGIF
	}
	claims := pixel.Claims{
		Site:      site.Domain,
		Campaign:  campaign,
		Recipient: c.Query("r"), // only hashed: no copy of the token is made
		Consent:   c.Query("c") == "1",
		KeyID:     c.Query("k"),
	}
	if x := c.Query("x"); x != "" {
		exp, err := strconv.ParseInt(x, 10, 64)
		if err != nil || exp <= 0 {
			return ingest.Unsigned, nil
		}
		claims.Expires = exp
	}
	secret, ok := site.VerifyingKey(claims.KeyID)
	if !ok || !s.keys.key(secret).Verify(claims, c.Query("s")) {
		return ingest.Unsigned, nil
	}
	// Checked after the signature, so that the expiry cannot be forged
	// away; the image is served all the same.
	if claims.Expired(time.Now().Unix()) {
		return ingest.Expired, nil
	}
	claims.Campaign = strings.Clone(campaign) // counter rows keep it
	client, err := s.client(c)
	if err != nil {
		return "", err
	}
	return s.opts.Pipeline.EmailOpen(ingest.Open{
		Site:             site,
		Campaign:         claims.Campaign,
		Recipient:        claims.Recipient,
		RecipientConsent: claims.Consent,
	}, client)
}

// signingKeys holds a pixel.Key per email secret, made on first use: a
// Key keeps keyed HMAC states, which is what makes verifying an open
// cheap. Keyed by the secret itself, so a changed secret gets a new Key.
// The zero value is ready; safe for concurrent use.
type signingKeys struct {
	mu   sync.RWMutex
	keys map[string]*pixel.Key
}

// key returns the signing key for secret, made once.
func (k *signingKeys) key(secret []byte) *pixel.Key {
	k.mu.RLock()
	key := k.keys[string(secret)]
	k.mu.RUnlock()
	if key != nil {
		return key
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if key = k.keys[string(secret)]; key == nil {
		if k.keys == nil {
			k.keys = map[string]*pixel.Key{}
		}
		key = pixel.NewKey(secret)
		k.keys[string(secret)] = key
	}
	return key
}
