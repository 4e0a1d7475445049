package pixel

import (
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"tally/collector/clientip"
	"tally/collector/consent"
	"tally/collector/ingest"
	"tally/collector/request"
	"tally/sites"
)

// GIF is a transparent 1x1 GIF89a, 43 bytes: the smallest image every mail
// client and browser renders.
var gif = [...]byte{
	'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, // header, 1x1, global colour table of 2
	0, 0, 0, 0xff, 0xff, 0xff, // colour table: black, white
	0x21, 0xf9, 4, 1, 0, 0, 0, 0, // graphic control: colour 0 transparent
	0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, // image descriptor
	2, 2, 0x44, 1, 0, // LZW min code size 2, one data block
	0x3b, // trailer
}

// GIF returns a copy of the pixel image.
func GIF() []byte { b := gif; return b[:] }

// Send answers with the pixel. It never fails: the status is always 200.
func Send(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "image/gif")
	// no-store: every view must reach us; a cached pixel is an uncounted view.
	c.Set(fiber.HeaderCacheControl, "no-store, no-cache, must-revalidate, max-age=0")
	c.Set(fiber.HeaderPragma, "no-cache")
	c.Set("Expires", "0")
	c.Set("Cross-Origin-Resource-Policy", "cross-origin")
	return c.Status(fiber.StatusOK).Send(gif[:])
}

// Recorder is told the outcome of each pixel hit (metrics).
type Recorder func(kind string, outcome ingest.Outcome, err error)

// Handlers serves both pixels.
type Handlers struct {
	Sites    *sites.Registry
	Pipeline *ingest.Pipeline
	Proxies  *clientip.Resolver
	Record   Recorder // may be nil

	keysMu sync.RWMutex
	keys   map[string]*Key // by secret, so a changed secret gets a new Key
}

// key returns the signing key for secret, made once.
func (h *Handlers) key(secret []byte) *Key {
	h.keysMu.RLock()
	k := h.keys[string(secret)]
	h.keysMu.RUnlock()
	if k != nil {
		return k
	}
	h.keysMu.Lock()
	defer h.keysMu.Unlock()
	if k = h.keys[string(secret)]; k == nil {
		if h.keys == nil {
			h.keys = map[string]*Key{}
		}
		k = NewKey(secret)
		h.keys[string(secret)] = k
	}
	return k
}

func (h *Handlers) record(kind string, o ingest.Outcome, err error) {
	if h.Record != nil {
		h.Record(kind, o, err)
	}
}

// Web is GET /p.gif?d=DOMAIN[&u=URL][&r=REFERRER][&consent=granted|denied][&gdpr_consent=TCF].
// Without u, the page is the Referer header: the page that embeds the <img>.
func (h *Handlers) Web(c *fiber.Ctx) error {
	o, err := h.web(c)
	h.record("web", o, err)
	return Send(c)
}

func (h *Handlers) web(c *fiber.Ctx) (ingest.Outcome, error) {
	site, ok := h.Sites.Lookup(c.Query("d"))
	if !ok {
		return "", errUnknownSite
	}
	state, err := consent.ParseState(c.Query("consent"))
	if err != nil {
		return "", err
	}
	client, err := request.Client(c, h.Proxies)
	if err != nil {
		return "", err
	}
	page := c.Query("u")
	if page == "" {
		page = c.Get(fiber.HeaderReferer)
	}
	// The URL is cloned: fasthttp reuses its buffer after the handler, and
	// counter rows keep parts of the URL. The referrer and TCF string are
	// only read during the call (see ingest.Event).
	return h.Pipeline.Event(ingest.Event{
		Site:     site,
		Name:     ingest.PageviewName,
		URL:      strings.Clone(page),
		Referrer: c.Query("r"),
		Consent:  consent.Signals{Analytics: state, TCF: c.Query("gdpr_consent")},
	}, client)
}

// Email is GET /e/{site}/{campaign}.gif?r=RECIPIENT&c=1&s=SIGNATURE. An
// unsigned or tampered URL gets the same GIF and counts nothing.
func (h *Handlers) Email(c *fiber.Ctx) error {
	o, err := h.email(c)
	h.record("email", o, err)
	return Send(c)
}

func (h *Handlers) email(c *fiber.Ctx) (ingest.Outcome, error) {
	site, ok := h.Sites.Lookup(c.Params("site"))
	if !ok {
		return "", errUnknownSite
	}
	campaign, ok := strings.CutSuffix(c.Params("file"), ".gif")
	if !ok {
		return "", errNotGIF
	}
	claims := Claims{
		Site:      site.Domain,
		Campaign:  campaign,
		Recipient: c.Query("r"), // only hashed: no copy of the token is made
		Consent:   c.Query("c") == "1",
	}
	if len(site.EmailSecret) == 0 || !h.key(site.EmailSecret).Verify(claims, c.Query("s")) {
		return ingest.Unsigned, nil
	}
	claims.Campaign = strings.Clone(campaign) // counter rows keep it
	client, err := request.Client(c, h.Proxies)
	if err != nil {
		return "", err
	}
	return h.Pipeline.EmailOpen(ingest.Open{
		Site:             site,
		Campaign:         claims.Campaign,
		Recipient:        claims.Recipient,
		RecipientConsent: claims.Consent,
	}, client)
}

type pixelError string

func (e pixelError) Error() string { return string(e) }

const (
	errUnknownSite = pixelError("unknown site")
	errNotGIF      = pixelError("pixel path must end in .gif")
)
