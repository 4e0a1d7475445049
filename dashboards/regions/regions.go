// Package regions turns the stored ISO 3166 codes into names people read:
// countries (ISO 3166-1 alpha-2, "DE") and first-level subdivisions
// (ISO 3166-2, "DE-BY"). The names come from github.com/biter777/countries,
// a maintained, dependency-free table of both standards; a code it does not
// know is shown as the code itself.
package regions

import (
	"strings"

	"github.com/biter777/countries"
)

// Country names an ISO 3166-1 alpha-2 code, e.g. "DE" -> "Germany".
func Country(code string) string {
	if len(code) != 2 {
		return code
	}
	c := countries.ByName(strings.ToUpper(code))
	// ByName also matches names; insist that the code is the alpha-2 code.
	if c.Alpha2() != strings.ToUpper(code) {
		return code
	}
	return c.String()
}

// Subdivision names an ISO 3166-2 code with its country, e.g. "DE-BY" ->
// "Bayern, Germany".
func Subdivision(code string) string {
	cc, _, ok := strings.Cut(code, "-")
	if !ok {
		return code
	}
	s := countries.SubdivisionCode(strings.ToUpper(code))
	if !s.IsValid() {
		return code
	}
	return s.String() + ", " + Country(cc)
}
