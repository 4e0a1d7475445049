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
	"tally/collector/ingest"
	"tally/collector/visits"
)

// eventBody is the Plausible Events API body (long and short field names:
// the official tracker sends n/u/d/r/p) plus our optional consent object.
// Custom properties (props/p, or the legacy meta/m: a JSON string holding
// the object) and revenue (revenue/$) are kept as JSON text and checked
// (ingest.ParseProps, ParseRevenue), a page view without them costs
// nothing more; only the site's allow-listed props are ever read. h/hash
// is 1 for sites with hash-based routing.
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

	// The raw members keep their capacity across uses of a pooled body
	// (eventParser.put), so decoding props costs no allocation.
	Props   json.RawMessage `json:"props"`
	P       json.RawMessage `json:"p"`
	Meta    json.RawMessage `json:"meta"`
	M       json.RawMessage `json:"m"`
	Revenue json.RawMessage `json:"revenue"`
	Dollar  json.RawMessage `json:"$"`
	H       jsonInt         `json:"h"`
	Hash    jsonInt         `json:"hash"`
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
	// Props alias the pooled body: valid until eventParser.done.
	Props   ingest.Props
	Revenue ingest.Revenue
	Hash    bool // h: 1, hash-based routing

	body *eventBody // returned to the pool by done
}

var errEmptyBody = errors.New("empty body: send a JSON event")

// eventParser decodes event bodies. It reuses the structs it decodes into:
// json.Unmarshal takes an interface, so a fresh one would be one more heap
// object per event. The zero value is ready; safe for concurrent use.
type eventParser struct {
	bodies sync.Pool // of *eventBody
}

// maxKeptRaw bounds the raw members' buffers a pooled body keeps: a large
// props object is not held for the next event.
const maxKeptRaw = 4 << 10

// put returns b to the pool, keeping the raw members' buffers.
func (p *eventParser) put(b *eventBody) {
	keep := func(r json.RawMessage) json.RawMessage {
		if cap(r) > maxKeptRaw {
			return nil
		}
		return r[:0]
	}
	*b = eventBody{Props: keep(b.Props), P: keep(b.P), Meta: keep(b.Meta), M: keep(b.M),
		Revenue: keep(b.Revenue), Dollar: keep(b.Dollar)}
	p.bodies.Put(b)
}

// done ends the use of ev: its Props are no longer valid.
func (p *eventParser) done(ev *parsedEvent) {
	if ev.body != nil {
		p.put(ev.body)
		ev.body, ev.Props = nil, ingest.Props{}
	}
}

// parse decodes and checks an event body. It does not look sites up. The
// event's strings are copies: they do not alias body; its Props alias a
// pooled buffer, so the caller calls done when the event is counted.
func (p *eventParser) parse(body []byte) (parsedEvent, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return parsedEvent{}, errEmptyBody
	}
	b, _ := p.bodies.Get().(*eventBody)
	if b == nil {
		b = new(eventBody)
	}
	ev, err := p.decode(body, b)
	if err != nil {
		p.put(b)
		return parsedEvent{}, err
	}
	ev.body = b
	return ev, nil
}

func (p *eventParser) decode(body []byte, b *eventBody) (parsedEvent, error) {
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
	ev.Hash = b.H.v == 1 || b.Hash.v == 1
	if ev.Props, err = parseProps(b); err != nil {
		return parsedEvent{}, err
	}
	if rev := firstRaw(b.Revenue, b.Dollar); len(rev) > 0 {
		if ev.Revenue, err = ingest.ParseRevenue(rev); err != nil {
			return parsedEvent{}, err
		}
	}
	return ev, nil
}

// parseProps checks the event's props: props or p, an object; else the
// legacy meta or m, a JSON string holding one.
func parseProps(b *eventBody) (ingest.Props, error) {
	if raw := firstRaw(b.Props, b.P); len(raw) > 0 && raw[0] != '"' {
		return ingest.ParseProps(raw)
	} else if len(raw) > 0 {
		// Plausible's older npm tracker (plausible-tracker) sends p as
		// JSON.stringify(props): a string holding the object, as meta is.
		return parsePropsString(raw, &b.Props, "props")
	}
	raw := firstRaw(b.Meta, b.M)
	if len(raw) == 0 || string(raw) == "null" {
		return ingest.Props{}, nil
	}
	return parsePropsString(raw, &b.Meta, "meta")
}

// parsePropsString reads props sent as a JSON string holding the object
// (meta, or p from plausible-tracker). The unquoted object is kept in the
// pooled member buf, which the returned Props alias until done.
func parsePropsString(raw json.RawMessage, buf *json.RawMessage, field string) (ingest.Props, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return ingest.Props{}, fmt.Errorf(`%s must be an object, or a JSON string holding one`, field)
	}
	if !json.Valid([]byte(s)) {
		return ingest.Props{}, fmt.Errorf("%s: the string does not hold valid JSON", field)
	}
	// Rare forms: their own copy, kept in the pooled member.
	*buf = append((*buf)[:0], s...)
	return ingest.ParseProps(*buf)
}

func firstRaw(a, b json.RawMessage) json.RawMessage {
	if len(a) > 0 {
		return a
	}
	return b
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
