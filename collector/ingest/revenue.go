package ingest

import (
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/text/currency"
)

// Revenue is an event's amount, as Plausible's `revenue` member sends it:
// {"amount": 12.5 | "12.50", "currency": "EUR"}. It is counted in the
// currency it was sent in, never converted. The zero Revenue is none.
type Revenue struct {
	Currency string // ISO 4217 code, upper case
	Micros   int64  // amount in millionths of the currency unit, > 0
}

// MaxRevenue is the largest amount accepted, in currency units.
const MaxRevenue = 1_000_000_000

// ParseRevenue reads a revenue member: null is none; otherwise an object
// with a currency that is an ISO 4217 code and an amount, a JSON number or
// a string holding one, written as a decimal > 0 and <= MaxRevenue with
// at most 6 fraction digits. The error names the field that is wrong.
func ParseRevenue(raw []byte) (Revenue, error) {
	var b struct {
		Amount   json.RawMessage `json:"amount"`
		Currency json.RawMessage `json:"currency"`
	}
	if string(raw) == "null" {
		return Revenue{}, nil
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return Revenue{}, errors.New(`revenue must be an object: {"amount": 12.5, "currency": "EUR"}`)
	}
	var code string
	if err := json.Unmarshal(b.Currency, &code); err != nil || len(code) != 3 {
		return Revenue{}, errors.New("revenue.currency must be an ISO 4217 code such as EUR")
	}
	unit, err := currency.ParseISO(code)
	if err != nil {
		return Revenue{}, errors.New("revenue.currency must be an ISO 4217 code such as EUR")
	}
	amount := b.Amount
	if len(amount) >= 2 && amount[0] == '"' {
		var s string
		if json.Unmarshal(amount, &s) != nil {
			return Revenue{}, errBadAmount
		}
		amount = []byte(s)
	}
	micros, err := parseMicros(amount)
	if err != nil {
		return Revenue{}, err
	}
	return Revenue{Currency: unit.String(), Micros: micros}, nil
}

var errBadAmount = fmt.Errorf("revenue.amount must be a decimal number > 0 and <= %d with at most 6 fraction digits", MaxRevenue)

// parseMicros reads "12", "12.5" or "0.000001" as millionths: no sign, no
// exponent, no spaces, at most 6 fraction digits.
func parseMicros(s []byte) (int64, error) {
	var whole, frac int64
	digits, fracDigits, dot := 0, 0, false
	for _, c := range s {
		switch {
		case c == '.' && !dot:
			dot = true
		case '0' <= c && c <= '9':
			if dot {
				if fracDigits++; fracDigits > 6 {
					return 0, errBadAmount
				}
				frac = frac*10 + int64(c-'0')
				continue
			}
			if digits++; whole > MaxRevenue {
				return 0, errBadAmount
			}
			whole = whole*10 + int64(c-'0')
		default:
			return 0, errBadAmount
		}
	}
	if digits == 0 || dot && fracDigits == 0 {
		return 0, errBadAmount
	}
	for range 6 - fracDigits {
		frac *= 10
	}
	m := whole*1_000_000 + frac
	if m <= 0 || m > MaxRevenue*1_000_000 {
		return 0, errBadAmount
	}
	return m, nil
}
