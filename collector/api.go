package collector

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/collector/referrer"
	"tally/collector/request"
)

// event is POST /api/event: a page view or custom event, answered 202.
func (s *server) event(c *fiber.Ctx) error {
	ev, err := s.events.parse(c.Body())
	if err != nil {
		s.opts.Metrics.Rejected("event", "malformed")
		return badRequest(c, err.Error())
	}
	site, ok := s.opts.Sites.Lookup(ev.Domain)
	if !ok {
		s.opts.Metrics.Rejected("event", "unknown_site")
		return badRequest(c, "unknown site: declare it in the sites file")
	}
	client, err := request.Client(c, s.opts.Proxies)
	if err != nil {
		s.opts.Metrics.Rejected("event", reason(err))
		return badRequest(c, err.Error())
	}
	outcome, err := s.opts.Pipeline.Event(ingest.Event{
		Site: site, Name: ev.Name, URL: ev.URL, Referrer: ev.Referrer, Consent: ev.Consent,
	}, client)
	if shed, err2 := s.overloaded(c, "event", err); shed {
		return err2
	}
	if err != nil {
		s.opts.Metrics.Rejected("event", reason(err))
		return badRequest(c, err.Error())
	}
	s.opts.Metrics.Hit("event", string(outcome))
	return c.Status(fiber.StatusAccepted).SendString("ok")
}

type sentBody struct {
	Site  string `json:"site"`
	Count int64  `json:"count"`
}

// campaignSent is POST /api/campaigns/{id}/sent {"site":..., "count":...},
// authenticated with the site's email secret as a bearer token: only the
// email system that signs the pixels may report sends.
func (s *server) campaignSent(c *fiber.Ctx) error {
	var b sentBody
	if err := json.Unmarshal(c.Body(), &b); err != nil {
		s.opts.Metrics.Rejected("sent", "malformed")
		return badRequest(c, "malformed JSON: want {\"site\": \"example.com\", \"count\": 1000}")
	}
	site, ok := s.opts.Sites.Lookup(b.Site)
	if !ok {
		s.opts.Metrics.Rejected("sent", "unknown_site")
		return badRequest(c, "unknown site: declare it in the sites file")
	}
	token, _ := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if len(site.EmailSecret) == 0 || subtle.ConstantTimeCompare([]byte(token), site.EmailSecret) != 1 {
		s.opts.Metrics.Rejected("sent", "unauthorized")
		return c.Status(fiber.StatusUnauthorized).JSON(errorBody{Error: "send the site's email secret as a bearer token"})
	}
	err := s.opts.Pipeline.EmailSent(site, strings.Clone(c.Params("id")), b.Count)
	if shed, err2 := s.overloaded(c, "sent", err); shed {
		return err2
	}
	if err != nil {
		s.opts.Metrics.Rejected("sent", reason(err))
		return badRequest(c, err.Error())
	}
	s.opts.Metrics.Hit("sent", string(ingest.Counted))
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"site": site.Domain, "count": b.Count})
}

// recordPixel feeds pixel outcomes to the metrics.
func (s *server) recordPixel(kind string, o ingest.Outcome, err error) {
	switch kind { // constant labels: a concatenation would allocate per hit
	case "web":
		kind = "web_pixel"
	case "email":
		kind = "email_pixel"
	default:
		kind += "_pixel"
	}
	if err == nil {
		s.opts.Metrics.Hit(kind, string(o))
		return
	}
	if oe, ok := overload(err); ok {
		s.opts.Metrics.Shed(kind, oe.Reason) // the image is sent all the same
		return
	}
	s.opts.Metrics.Rejected(kind, reason(err))
}

// reason maps an error to a metrics label from a fixed set.
func reason(err error) string {
	switch {
	case errors.Is(err, clientip.ErrInvalidForwarded):
		return "bad_forwarded_header"
	case errors.Is(err, referrer.ErrBadURL), errors.Is(err, referrer.ErrURLTooLong):
		return "bad_url"
	case errors.Is(err, ingest.ErrForeignHost):
		return "foreign_host"
	case errors.Is(err, ingest.ErrBadName):
		return "bad_name"
	case errors.Is(err, ingest.ErrBadCampaign), errors.Is(err, ingest.ErrBadCount):
		return "bad_campaign"
	}
	return "invalid"
}
