package consent

import "testing"

// Public TCF v2 test vectors: purpose 8 (measure content performance)
// consented, and a string consenting purpose 1 but not 8.
const (
	tcfPurpose8   = "COyiBqdOyiBqdObAAAENAfCIAP8AAH-AAAAAB4AXQQgEAAAgoAAAAABAIYQUAAAAAAAAAAAAAAAIQIQCxIvkgQMAAAABgAIAAAAAAAAAAABAZAkAAA"
	tcfNoPurpose8 = "COwGVJOOwGVJOADACHENAOCAAO6as_-AAAhoAFNLAAoAAAA"
)

func TestDecide(t *testing.T) {
	f := func(mode Mode, s Signals, want Decision) {
		t.Helper()
		if got := Decide(mode, s); got != want {
			t.Errorf("Decide(%s, %+v) = %+v, want %+v", mode, s, got, want)
		}
	}
	all := Decision{State: Granted, Counters: true, Uniques: true}
	// The product's table, row by row.
	f(ModeStrict, Signals{Analytics: Granted}, all)
	f(ModeStrict, Signals{Analytics: Denied}, Decision{State: Denied})
	f(ModeStrict, Signals{}, Decision{State: Unknown})
	f(ModeAnonymous, Signals{Analytics: Granted}, all)
	f(ModeAnonymous, Signals{Analytics: Denied}, Decision{State: Denied, Counters: true})
	f(ModeAnonymous, Signals{}, Decision{State: Unknown, Counters: true})
	f(ModeAnonymous, Signals{GPC: true}, Decision{State: Denied, Counters: true})
	f(ModeAnonymous, Signals{DNT: true}, Decision{State: Denied, Counters: true})
	f(ModeStrict, Signals{GPC: true}, Decision{State: Denied})
	// An opt-out header next to a grant: counted, never hashed.
	f(ModeAnonymous, Signals{Analytics: Granted, DNT: true}, Decision{State: Granted, Counters: true})
	f(ModeStrict, Signals{Analytics: Granted, GPC: true}, Decision{State: Granted, Counters: true})
	// TCF strings speak when no explicit field does.
	f(ModeStrict, Signals{TCF: tcfPurpose8}, all)
	f(ModeStrict, Signals{TCF: tcfNoPurpose8}, Decision{State: Denied})
	f(ModeAnonymous, Signals{TCF: tcfNoPurpose8}, Decision{State: Denied, Counters: true})
	f(ModeStrict, Signals{TCF: "not-a-tcf-string"}, Decision{State: Unknown})
	// go-gdpr panics on this one (index out of range): unknown, no panic.
	f(ModeStrict, Signals{TCF: "C0000000000000000000000000000000000AAFA0000"}, Decision{State: Unknown})
	// The explicit field wins over the CMP's string.
	f(ModeStrict, Signals{Analytics: Denied, TCF: tcfPurpose8}, Decision{State: Denied})
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
	if m, err := ParseMode(""); err != nil || m != ModeAnonymous {
		t.Errorf("ParseMode(\"\") = %v, %v", m, err)
	}
	if _, err := ParseMode("lax"); err == nil {
		t.Error("ParseMode(lax) succeeded")
	}
}
