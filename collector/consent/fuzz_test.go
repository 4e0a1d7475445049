package consent

import (
	"strings"
	"testing"

	"tally/sites"
)

// FuzzParseState: every input is a known state or the one fixed error,
// whose text never quotes the input; case and surrounding space do not
// matter.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{"", "granted", " Denied ", "1", "0", "yes", "maybe", "GRANTED\t"} {
		f.Add(s)
	}
	_, fixed := ParseState("not a state")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseState(s)
		if err != nil {
			if err.Error() != fixed.Error() || st != Unknown {
				t.Fatalf("ParseState(%q) = %v, %q: want Unknown and the fixed error", s, st, err)
			}
			return
		}
		if st != Unknown && st != Granted && st != Denied {
			t.Fatalf("ParseState(%q) = %d", s, st)
		}
		if isASCII(s) {
			if st2, err2 := ParseState(" " + strings.ToUpper(s) + "\t"); st2 != st || err2 != nil {
				t.Fatalf("ParseState(%q) = %v but upper case and padded gives %v, %v", s, st, st2, err2)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzDecide checks the decision table's invariants for any signals,
// including arbitrary TCF strings.
func FuzzDecide(f *testing.F) {
	f.Add(tcfPurpose8, uint8(0), false, false, true)
	f.Add(tcfNoPurpose8, uint8(0), false, true, false)
	f.Add("CO", uint8(1), true, false, true)
	f.Add(tcfPurpose8+".YAAAAAAAAAAA", uint8(0), false, false, false)
	f.Fuzz(func(t *testing.T, tcf string, analytics uint8, gpc, dnt, strict bool) {
		mode := sites.ModeAnonymous
		if strict {
			mode = sites.ModeStrict
		}
		if analytics >= 128 { // the fuzzer reaches the third mode through the high bit
			mode = sites.ModeOptOut
		}
		s := Signals{Analytics: State(analytics % 3), TCF: tcf, GPC: gpc, DNT: dnt}
		d := Decide(mode, s)
		if d != Decide(mode, s) {
			t.Fatal("Decide is not deterministic")
		}
		switch {
		case d.State != Unknown && d.State != Granted && d.State != Denied:
			t.Fatalf("state %d", d.State)
		case d.Uniques && !(d.Counters && (d.State == Granted || mode == sites.ModeOptOut && d.State == Unknown) && !gpc && !dnt):
			t.Fatalf("%+v -> %+v: uniques without a grant, or despite GPC/DNT", s, d)
		case mode == sites.ModeStrict && d.State != Granted && d.Counters:
			t.Fatalf("%+v -> %+v: strict mode counted without a grant", s, d)
		case mode != sites.ModeStrict && !d.Counters:
			t.Fatalf("%+v -> %+v: %s mode must always count", s, d, mode)
		case mode == sites.ModeOptOut && d.Uniques != (d.State != Denied && !gpc && !dnt):
			t.Fatalf("%+v -> %+v: optout counts uniques exactly when nothing withdrew consent", s, d)
		case s.Analytics != Unknown && d.State != s.Analytics:
			t.Fatalf("%+v -> %+v: the explicit choice must win", s, d)
		case (gpc || dnt) && d.State == Unknown:
			t.Fatalf("%+v -> %+v: an opt-out header must turn unknown into denied", s, d)
		}
		// Only the TCF core segment (before the first '.') counts, and an
		// oversized string says nothing.
		if core, _, ok := strings.Cut(tcf, "."); ok && len(tcf) <= 4096 && Decide(mode, Signals{Analytics: s.Analytics, TCF: core, GPC: gpc, DNT: dnt}) != d {
			t.Fatalf("segments after the core changed the decision for %q", tcf)
		}
		if len(tcf) > 4096 && d != Decide(mode, Signals{Analytics: s.Analytics, GPC: gpc, DNT: dnt}) {
			t.Fatal("a TCF string over 4096 bytes was read")
		}
	})
}
