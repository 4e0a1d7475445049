package collector

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/collector/referrer"
	"tally/collector/visits"
)

// Every counting route has one shape: a count function parses the request
// and calls the pipeline, and respond turns what came back into the answer
// and the metric. Errors are mapped to HTTP statuses and metric reasons
// here only.

// kind is a counting route, as named in the metrics.
type kind uint8

const (
	kindEvent kind = iota
	kindWebPixel
	kindEmailPixel
	kindSent
	kindEmailClick
)

// String is the kind's metric label: constant strings, where a label built
// per hit would allocate.
func (k kind) String() string {
	switch k {
	case kindWebPixel:
		return "web_pixel"
	case kindEmailPixel:
		return "email_pixel"
	case kindSent:
		return "sent"
	case kindEmailClick:
		return "email_click"
	}
	return "event"
}

// pixel reports whether the route answers the image whatever happened.
func (k kind) pixel() bool { return k == kindWebPixel || k == kindEmailPixel }

// kindOf names the counting route c is on, for middleware.
func kindOf(c *fiber.Ctx) (kind, bool) {
	switch c.Route().Path {
	case eventRoute:
		return kindEvent, true
	case webPixelRoute:
		return kindWebPixel, true
	case emailPixelRoute:
		return kindEmailPixel, true
	case sentRoute:
		return kindSent, true
	case emailClickRoute:
		return kindEmailClick, true
	}
	return 0, false
}

// respond ends every counting route. It records the hit (see record), then
// answers: a pixel always with the image; a click link always with
// accepted (its redirect, see click.go; followLink when nil); the API with accepted when the
// hit went through, 503 with Retry-After when the pipeline shed it over a
// memory bound, and otherwise the refusal's status (400 unless the error
// is a *refusal that says otherwise) with the error's text, which never
// quotes the request.
func (s *server) respond(c *fiber.Ctx, k kind, o ingest.Outcome, err error, accepted fiber.Handler) error {
	s.record(k, o, err)
	switch {
	case k.pixel():
		return s.sendPixel(c)
	case k == kindEmailClick && accepted == nil:
		return s.followLink(c)
	case k == kindEmailClick, err == nil:
		return accepted(c)
	}
	if oe, ok := overload(err); ok {
		c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(int64((oe.RetryAfter+time.Second-1)/time.Second), 10))
		return c.Status(fiber.StatusServiceUnavailable).JSON(errorBody{Error: oe.Error()})
	}
	status := fiber.StatusBadRequest
	if r, ok := errors.AsType[*refusal](err); ok {
		status = r.status
	}
	return c.Status(status).JSON(errorBody{Error: err.Error()})
}

// record counts a hit in the metrics: accepted by outcome, shed (memory
// bounds, rate limit) or refused by reason.
func (s *server) record(k kind, o ingest.Outcome, err error) {
	if err == nil {
		s.opts.Metrics.Hit(k.String(), string(o))
		return
	}
	if oe, ok := overload(err); ok {
		s.opts.Metrics.Shed(k.String(), oe.Reason)
		return
	}
	if r, ok := errors.AsType[*refusal](err); ok && r.shed {
		s.opts.Metrics.Shed(k.String(), r.reason)
		return
	}
	s.opts.Metrics.Rejected(k.String(), reason(err))
}

func overload(err error) (*ingest.OverloadError, bool) {
	return errors.AsType[*ingest.OverloadError](err)
}

// refusal is a request the handlers refuse on their own, before or around
// the pipeline: the status it is answered with and the reason it is counted
// under. shed marks a refusal that protects the collector (counted in
// tally_shed_total, not as bad input).
type refusal struct {
	err    error // the answer's text
	status int
	reason string
	shed   bool
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// The handlers' own refusals.
var (
	errUnknownSite = &refusal{err: errors.New("unknown site: declare it in the sites file"),
		status: fiber.StatusBadRequest, reason: "unknown_site"}
	errMalformedSent = &refusal{err: errors.New(`malformed JSON: want {"site": "example.com", "count": 1000}`),
		status: fiber.StatusBadRequest, reason: "malformed"}
	errUnauthorized = &refusal{err: errors.New("send the site's email secret as a bearer token"),
		status: fiber.StatusUnauthorized, reason: "unauthorized"}
	errRateLimited = &refusal{err: errors.New("too many requests from this client: retry after the Retry-After delay"),
		status: fiber.StatusTooManyRequests, reason: "rate_limited", shed: true}
)

// malformed refuses a body that does not parse; err's text is the answer.
func malformed(err error) error {
	return &refusal{err: err, status: fiber.StatusBadRequest, reason: "malformed"}
}

// reason maps an error to a metrics label from a fixed set.
func reason(err error) string {
	if r, ok := errors.AsType[*refusal](err); ok {
		return r.reason
	}
	switch {
	case errors.Is(err, clientip.ErrInvalidForwarded):
		return "bad_forwarded_header"
	case errors.Is(err, referrer.ErrBadURL), errors.Is(err, referrer.ErrURLTooLong):
		return "bad_url"
	case errors.Is(err, ingest.ErrForeignHost):
		return "foreign_host"
	case errors.Is(err, ingest.ErrBadName):
		return "bad_name"
	case errors.Is(err, visits.ErrEmptyEngagement):
		return "bad_engagement"
	case errors.Is(err, ingest.ErrBadCampaign), errors.Is(err, ingest.ErrBadCount):
		return "bad_campaign"
	}
	// The pixels' own refusals (unknown site, not a .gif, a bad consent
	// value) have always been counted here.
	return "invalid"
}
