package stats

import (
	"fmt"
	"time"
)

// Range is a half-open interval [Start, End) of whole UTC hours, the
// resolution of the counters.
type Range struct {
	Start, End time.Time
	// Period is the nominal length of the range for comparisons: "today"
	// at 14:00 is 14 hours long but is compared with the same 14 hours a
	// day (Period) earlier. Zero means Len.
	Period time.Duration
}

// Len is the range's duration.
func (r Range) Len() time.Duration { return r.End.Sub(r.Start) }

// Previous is the range of the same length one Period earlier, which every
// figure is compared against.
func (r Range) Previous() Range {
	p := r.Period
	if p <= 0 {
		p = r.Len()
	}
	return Range{Start: r.Start.Add(-p), End: r.End.Add(-p), Period: r.Period}
}

func (r Range) validate() error {
	if !r.End.After(r.Start) {
		return inputErrorf("range is empty: %s to %s", r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339))
	}
	return nil
}

// InputError is a question the caller asked wrongly (unknown dimension, bad
// range, limit too large): the HTTP layer answers it with a 4xx.
type InputError struct{ msg string }

func (e *InputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{msg: fmt.Sprintf(format, args...)}
}

// InputErrorf makes an InputError, for layers above the queries that
// refuse a question in the same way (the dashboards' privacy policy).
func InputErrorf(format string, args ...any) error { return inputErrorf(format, args...) }
