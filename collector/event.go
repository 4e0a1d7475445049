package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"tally/collector/consent"
)

// eventBody is the Plausible Events API body (long and short field names:
// the official tracker sends n/u/d/r/p) plus our optional consent object.
// props are accepted and never stored: they could carry anything.
type eventBody struct {
	Name     string          `json:"name"`
	N        string          `json:"n"`
	URL      string          `json:"url"`
	U        string          `json:"u"`
	Domain   string          `json:"domain"`
	D        string          `json:"d"`
	Referrer string          `json:"referrer"`
	R        string          `json:"r"`
	Props    json.RawMessage `json:"props"`
	P        json.RawMessage `json:"p"`
	Consent  *consentBody    `json:"consent"`
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
}

var errEmptyBody = errors.New("empty body: send a JSON event")

// parseEvent decodes and checks an event body. It does not look sites up.
func parseEvent(body []byte) (parsedEvent, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return parsedEvent{}, errEmptyBody
	}
	var b eventBody
	if err := json.Unmarshal(body, &b); err != nil {
		return parsedEvent{}, fmt.Errorf("malformed JSON: %s", jsonProblem(err))
	}
	ev := parsedEvent{
		Name:     first(b.Name, b.N),
		URL:      first(b.URL, b.U),
		Domain:   strings.ToLower(strings.TrimSpace(first(b.Domain, b.D))),
		Referrer: first(b.Referrer, b.R),
	}
	switch {
	case ev.Name == "":
		return parsedEvent{}, errors.New("name is required")
	case ev.URL == "":
		return parsedEvent{}, errors.New("url is required")
	case ev.Domain == "":
		return parsedEvent{}, errors.New("domain is required")
	}
	if b.Consent != nil {
		state, err := consent.ParseState(b.Consent.Analytics)
		if err != nil {
			return parsedEvent{}, fmt.Errorf("consent.analytics: %w", err)
		}
		ev.Consent = consent.Signals{Analytics: state, TCF: b.Consent.TCF}
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
