package consent

import (
	"fmt"
	"strings"

	"github.com/prebid/go-gdpr/consentconstants"
	"github.com/prebid/go-gdpr/vendorconsent"

	"tally/sites"
)

// State is what the signals say about analytics consent. It is itself
// counted (the consent rate), so its String form is a stored value.
type State uint8

const (
	Unknown State = iota
	Granted
	Denied
)

func (s State) String() string {
	switch s {
	case Granted:
		return "granted"
	case Denied:
		return "denied"
	}
	return "unknown"
}

// ParseState reads an explicit consent field: "granted", "denied" or ""
// (unknown). Common synonyms that CMPs emit are accepted too.
func ParseState(s string) (State, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return Unknown, nil
	case "granted", "true", "yes", "1", "allow", "allowed":
		return Granted, nil
	case "denied", "false", "no", "0", "deny", "refused":
		return Denied, nil
	}
	return Unknown, fmt.Errorf("invalid consent value: want %q or %q", "granted", "denied")
}

// Signals are the consent inputs of one request.
type Signals struct {
	// Analytics is the explicit analytics choice from the event or pixel.
	Analytics State
	// TCF is an IAB TCF v2 consent string from the page's CMP, if any. It is
	// consulted only when Analytics is Unknown: an explicit field is more
	// specific than the CMP's general string.
	TCF string
	// GPC is the Sec-GPC: 1 header, DNT the DNT: 1 header.
	GPC, DNT bool
}

// Decision is what may be recorded for one hit.
type Decision struct {
	// State is the analytics consent state, counted per site and day.
	State State
	// Counters: aggregate counters may be incremented.
	Counters bool
	// Uniques: the salted visitor hash may be computed. When false it is not
	// computed at all, not merely discarded.
	Uniques bool
}

// tcfMeasureContent is TCF v2 purpose 8, "measure content performance":
// first-party audience measurement. We read no device storage (no cookies),
// so purpose 1 is not required.
const tcfMeasureContent = consentconstants.Purpose(8)

// Decide applies the product's decision table:
//
//	strict,    granted          -> counters and uniques
//	strict,    denied / unknown -> nothing but the consent counter
//	anonymous, granted          -> counters and uniques
//	anonymous, anything else    -> counters only, no hash
//	optout,    granted / unknown -> counters and uniques (consent assumed)
//	optout,    denied           -> counters only, no hash
//
// GPC and DNT are opt-outs: they turn an unknown state into denied, and they
// always switch uniques off, even next to an explicit grant, because a
// browser-wide "do not track" is the stronger statement about recognition.
func Decide(mode sites.Mode, s Signals) Decision {
	state := s.Analytics
	if state == Unknown && s.TCF != "" {
		state = tcfState(s.TCF)
	}
	optOut := s.GPC || s.DNT
	if state == Unknown && optOut {
		state = Denied
	}
	d := Decision{State: state}
	switch {
	case state == Granted:
		d.Counters, d.Uniques = true, !optOut
	case mode == sites.ModeOptOut && state == Unknown:
		// Consent assumed: nothing withdrew it (GPC and DNT made the
		// state denied above).
		d.Counters, d.Uniques = true, true
	case mode == sites.ModeStrict:
		// Denied or unknown: only the consent counter.
	default:
		d.Counters = true
	}
	return d
}

// tcfState reads purpose 8 consent from a TCF v2 string. A string that does
// not parse says nothing, so it is Unknown rather than an error: a broken CMP
// must not make the hit fail.
func tcfState(raw string) (st State) {
	if len(raw) > 4096 {
		return Unknown
	}
	// go-gdpr v1.12.0 indexes past the end of some malformed strings
	// (FuzzDecide found one, kept in testdata): such a string says nothing
	// either.
	defer func() {
		if recover() != nil {
			st = Unknown
		}
	}()
	vc, err := vendorconsent.ParseString(raw)
	if err != nil || vc.Version() != 2 {
		return Unknown
	}
	if vc.PurposeAllowed(tcfMeasureContent) {
		return Granted
	}
	return Denied
}
