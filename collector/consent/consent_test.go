package consent

import (
	"testing"

	"tally/sites"
)

// Public TCF v2 test vectors: purpose 8 (measure content performance)
// consented, and a string consenting purpose 1 but not 8.
const (
	tcfPurpose8   = "COyiBqdOyiBqdObAAAENAfCIAP8AAH-AAAAAB4AXQQgEAAAgoAAAAABAIYQUAAAAAAAAAAAAAAAIQIQCxIvkgQMAAAABgAIAAAAAAAAAAABAZAkAAA"
	tcfNoPurpose8 = "COwGVJOOwGVJOADACHENAOCAAO6as_-AAAhoAFNLAAoAAAA"
)

func TestDecide(t *testing.T) {
	f := func(mode sites.Mode, s Signals, want Decision) {
		t.Helper()
		if got := Decide(mode, s); got != want {
			t.Errorf("Decide(%s, %+v) = %+v, want %+v", mode, s, got, want)
		}
	}
	all := Decision{State: Granted, Counters: true, Uniques: true}
	// The product's table, row by row.
	f(sites.ModeStrict, Signals{Analytics: Granted}, all)
	f(sites.ModeStrict, Signals{Analytics: Denied}, Decision{State: Denied})
	f(sites.ModeStrict, Signals{}, Decision{State: Unknown})
	f(sites.ModeAnonymous, Signals{Analytics: Granted}, all)
	f(sites.ModeAnonymous, Signals{Analytics: Denied}, Decision{State: Denied, Counters: true})
	f(sites.ModeAnonymous, Signals{}, Decision{State: Unknown, Counters: true})
	f(sites.ModeAnonymous, Signals{GPC: true}, Decision{State: Denied, Counters: true})
	f(sites.ModeAnonymous, Signals{DNT: true}, Decision{State: Denied, Counters: true})
	f(sites.ModeStrict, Signals{GPC: true}, Decision{State: Denied})
	// An opt-out header next to a grant: counted, never hashed.
	f(sites.ModeAnonymous, Signals{Analytics: Granted, DNT: true}, Decision{State: Granted, Counters: true})
	f(sites.ModeStrict, Signals{Analytics: Granted, GPC: true}, Decision{State: Granted, Counters: true})
	// TCF strings speak when no explicit field does.
	f(sites.ModeStrict, Signals{TCF: tcfPurpose8}, all)
	f(sites.ModeStrict, Signals{TCF: tcfNoPurpose8}, Decision{State: Denied})
	f(sites.ModeAnonymous, Signals{TCF: tcfNoPurpose8}, Decision{State: Denied, Counters: true})
	f(sites.ModeStrict, Signals{TCF: "not-a-tcf-string"}, Decision{State: Unknown})
	// go-gdpr panics on this one (index out of range): unknown, no panic.
	f(sites.ModeStrict, Signals{TCF: "C0000000000000000000000000000000000AAFA0000"}, Decision{State: Unknown})
	// The explicit field wins over the CMP's string.
	f(sites.ModeStrict, Signals{Analytics: Denied, TCF: tcfPurpose8}, Decision{State: Denied})

	// optout: consent assumed unless withdrawn, by any of the signals.
	counters := func(s State) Decision { return Decision{State: s, Counters: true} }
	f(sites.ModeOptOut, Signals{}, Decision{State: Unknown, Counters: true, Uniques: true})
	f(sites.ModeOptOut, Signals{Analytics: Granted}, all)
	f(sites.ModeOptOut, Signals{Analytics: Denied}, counters(Denied))
	f(sites.ModeOptOut, Signals{GPC: true}, counters(Denied))
	f(sites.ModeOptOut, Signals{DNT: true}, counters(Denied))
	f(sites.ModeOptOut, Signals{TCF: tcfNoPurpose8}, counters(Denied))
	f(sites.ModeOptOut, Signals{TCF: tcfPurpose8}, all)
	f(sites.ModeOptOut, Signals{TCF: "not-a-tcf-string"}, Decision{State: Unknown, Counters: true, Uniques: true})
	f(sites.ModeOptOut, Signals{Analytics: Denied, TCF: tcfPurpose8}, counters(Denied)) // the explicit choice wins
	f(sites.ModeOptOut, Signals{Analytics: Granted, GPC: true}, counters(Granted))      // a browser-wide opt-out still turns the hash off
}

func TestParse(t *testing.T) {
	for in, want := range map[string]State{"granted": Granted, " Denied ": Denied, "": Unknown, "true": Granted, "0": Denied} {
		if got, err := ParseState(in); err != nil || got != want {
			t.Errorf("ParseState(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseState("maybe"); err == nil {
		t.Error("ParseState(maybe) succeeded")
	}
}
