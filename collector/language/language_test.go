package language

import (
	"sort"
	"testing"
)

func TestPrimary(t *testing.T) {
	f := func(header, want string) {
		t.Helper()
		if got := Primary(header); got != want {
			t.Errorf("Primary(%q) = %q, want %q", header, got, want)
		}
	}
	f("", "")
	f("de", "de")
	f("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de")
	f("en-US,en;q=0.5", "en")
	f("EN-gb", "en")
	f("  fr-CH , fr;q=0.9", "fr")
	f("en;q=0.5, de", "de")          // the highest q wins
	f("en;q=0.8, de;q=0.8", "en")    // the first of equals
	f("*", "")                       // any: says nothing
	f("*, nl;q=0.1", "nl")           // the first that names a language
	f("zh-Hant-TW", "zh")            // script and region dropped
	f("pt_BR", "pt")                 // an underscore, as some clients write
	f("iw-IL", "he")                 // withdrawn codes read as today's
	f("gsw-CH, de;q=0.9", "de")      // three letters: not ISO 639-1
	f("xx, en;q=0.1", "en")          // not a language
	f("de;q=0", "")                  // not acceptable
	f("de;q=abc, en;q=0.1", "en")    // a malformed q is 0
	f("de;q=0.95;level=1", "de")     // other parameters ignored
	f("en;q=0.001, fr;q=0.01", "fr") // three decimals
	f("e1, 12", "")
	f("\xff\xfe", "")
	f("d", "")
	f(",,,;;;", "")
}

// TestCodesSorted: lookup searches the table, so it must stay sorted, and
// hold the 183 codes of ISO 639-1.
func TestCodesSorted(t *testing.T) {
	if !sort.StringsAreSorted(codes[:]) || len(codes) != 183 {
		t.Fatalf("codes: sorted %v, %d codes", sort.StringsAreSorted(codes[:]), len(codes))
	}
	for old, cur := range withdrawn {
		if lookup(cur) != cur || Primary(old) != cur {
			t.Errorf("withdrawn %s -> %s does not read as a current code", old, cur)
		}
	}
}

func TestPrimaryAllocatesNothing(t *testing.T) {
	h := "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"
	if n := testing.AllocsPerRun(100, func() { Primary(h) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzPrimary(f *testing.F) {
	for _, s := range []string{"de-DE,de;q=0.9", "*", "en;q=0.5, de", "iw", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got := Primary(h)
		if got == "" {
			return
		}
		if i := sort.SearchStrings(codes[:], got); i == len(codes) || codes[i] != got {
			t.Fatalf("Primary(%q) = %q, not an ISO 639-1 code", h, got)
		}
	})
}
