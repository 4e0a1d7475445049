package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"tally/collector/consent"
	"tally/collector/visits"
)

// eventBody is the Plausible Events API body (long and short field names:
// the official tracker sends n/u/d/r/p) plus our optional consent object.
// props (p) are accepted, as any other member is, and skipped unread:
// they could carry anything and are never stored.
//
// Engagement events (n "engagement") carry sd and e, read as Plausible
// reads them (visits.ParseScroll, ParseEngagedMS). Plausible's tracker
// sends its version as v on every event; our tracker sends its flags as tf
// and, in engagement reports, the depth it reported before as sp
// (collector/visits).
type eventBody struct {
	Name     string      `json:"name"`
	N        string      `json:"n"`
	URL      string      `json:"url"`
	U        string      `json:"u"`
	Domain   string      `json:"domain"`
	D        string      `json:"d"`
	Referrer string      `json:"referrer"`
	R        string      `json:"r"`
	Consent  consentBody `json:"consent"` // absent, null and {} all mean no explicit choice
	SD       jsonInt     `json:"sd"`
	E        jsonInt     `json:"e"`
	V        jsonInt     `json:"v"`
	TF       jsonInt     `json:"tf"`
	SP       jsonInt     `json:"sp"`
	// WD is true when our tracker saw navigator.webdriver (automation).
	// Plausible's tracker sends nothing at all from such a browser.
	WD bool `json:"wd"`
}

// jsonInt is an integer member as Plausible reads one: a JSON integer or
// a string holding one. Anything else (a fraction, null, an object) is
// missing, never an error.
type jsonInt struct {
	v  int64
	ok bool
}

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	*n = jsonInt{v: v, ok: err == nil}
	return nil
}

type consentBody struct {
	Analytics string `json:"analytics"`
	Marketing string `json:"marketing"`
	TCF       string `json:"tcf"`
}

// parsedEvent is a syntactically valid event.
type parsedEvent struct {
	Name, URL, Domain, Referrer string
	Consent                     consent.Signals
	Visit                       visits.Hit    // page views
	Report                      visits.Report // engagement reports
	Automated                   bool          // the tracker reported navigator.webdriver
}

var errEmptyBody = errors.New("empty body: send a JSON event")

// eventParser decodes event bodies. It reuses the structs it decodes into:
// json.Unmarshal takes an interface, so a fresh one would be one more heap
// object per event. The zero value is ready; safe for concurrent use.
type eventParser struct {
	bodies sync.Pool // of *eventBody
}

// parse decodes and checks an event body. It does not look sites up. The
// event's strings are copies: they do not alias body.
func (p *eventParser) parse(body []byte) (parsedEvent, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return parsedEvent{}, errEmptyBody
	}
	b, _ := p.bodies.Get().(*eventBody)
	if b == nil {
		b = new(eventBody)
	}
	defer func() { *b = eventBody{}; p.bodies.Put(b) }()
	if err := json.Unmarshal(body, b); err != nil {
		return parsedEvent{}, fmt.Errorf("malformed JSON: %s", jsonProblem(err))
	}
	ev := parsedEvent{
		Name:      first(b.Name, b.N),
		URL:       first(b.URL, b.U),
		Domain:    strings.ToLower(strings.TrimSpace(first(b.Domain, b.D))),
		Referrer:  first(b.Referrer, b.R),
		Automated: b.WD,
	}
	switch {
	case ev.Name == "":
		return parsedEvent{}, errors.New("name is required")
	case ev.URL == "":
		return parsedEvent{}, errors.New("url is required")
	case ev.Domain == "":
		return parsedEvent{}, errors.New("domain is required")
	}
	state, err := consent.ParseState(b.Consent.Analytics)
	if err != nil {
		return parsedEvent{}, fmt.Errorf("consent.analytics: %w", err)
	}
	ev.Consent = consent.Signals{Analytics: state, TCF: b.Consent.TCF}
	flags := visits.ParseFlags(b.TF.v)
	ev.Visit = visits.Hit{Flags: flags, Script: flags != 0 || b.V.ok}
	ev.Report = visits.Report{
		Scroll:     visits.ParseScroll(b.SD.v, b.SD.ok),
		EngagedMS:  visits.ParseEngagedMS(b.E.v, b.E.ok),
		PrevScroll: int(min(max(b.SP.v, 0), 100)),
		Flags:      flags,
	}
	return ev, nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// jsonProblem describes a decoding error without echoing input values.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type.Kind())
	}
	return "not a JSON object"
}
