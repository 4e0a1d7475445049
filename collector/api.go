package collector

import (
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tally/collector/ingest"
)

// The API routes, also used to recognise them in middleware.
const (
	eventRoute = "/api/event"
	sentRoute  = "/api/campaigns/:id/sent"
)

// event is POST /api/event: a page view or custom event, answered 202.
func (s *server) event(c *fiber.Ctx) error {
	o, err := s.countEvent(c)
	return s.respond(c, kindEvent, o, err, acceptedEvent)
}

func acceptedEvent(c *fiber.Ctx) error {
	return c.Status(fiber.StatusAccepted).SendString("ok")
}

func (s *server) countEvent(c *fiber.Ctx) (ingest.Outcome, error) {
	ev, err := s.events.parse(c.Body())
	if err != nil {
		return "", malformed(err)
	}
	defer s.events.done(&ev)
	site, ok := s.opts.Sites.Lookup(ev.Domain)
	if !ok {
		return "", errUnknownSite
	}
	client, err := s.client(c)
	if err != nil {
		return "", err
	}
	if ev.Name == ingest.EngagementName {
		return s.opts.Pipeline.Engagement(ingest.Engagement{
			Site: site, URL: ev.URL, Referrer: ev.Referrer, Consent: ev.Consent, Report: ev.Report,
			Automated: ev.Automated, Hash: ev.Hash,
		}, client)
	}
	return s.opts.Pipeline.Event(ingest.Event{
		Site: site, Name: ev.Name, URL: ev.URL, Referrer: ev.Referrer, Consent: ev.Consent, Visit: ev.Visit,
		Automated: ev.Automated, Props: ev.Props, Revenue: ev.Revenue, Hash: ev.Hash,
	}, client)
}

type sentBody struct {
	Site  string `json:"site"`
	Count int64  `json:"count"`
}

// campaignSent is POST /api/campaigns/{id}/sent {"site":..., "count":...},
// authenticated with one of the site's sent_tokens as a bearer token (or,
// for a site that declares none, its email secret): only the email system
// may report sends. The route is rate limited like the counting routes.
func (s *server) campaignSent(c *fiber.Ctx) error {
	r, err := s.reportSent(c)
	return s.respond(c, kindSent, ingest.Counted, err, r.accepted)
}

// sentReport is what a sent report counted, for its answer.
type sentReport struct {
	site  string
	count int64
}

func (r sentReport) accepted(c *fiber.Ctx) error {
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"site": r.site, "count": r.count})
}

func (s *server) reportSent(c *fiber.Ctx) (sentReport, error) {
	var b sentBody
	if err := json.Unmarshal(c.Body(), &b); err != nil {
		return sentReport{}, errMalformedSent
	}
	site, ok := s.opts.Sites.Lookup(b.Site)
	if !ok {
		return sentReport{}, errUnknownSite
	}
	token, _ := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !site.HasSentToken(token) {
		return sentReport{}, errUnauthorized
	}
	if err := s.opts.Pipeline.EmailSent(site, strings.Clone(c.Params("id")), b.Count); err != nil {
		return sentReport{}, err
	}
	return sentReport{site: site.Domain, count: b.Count}, nil
}
