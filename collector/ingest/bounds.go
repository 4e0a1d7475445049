package ingest

import (
	"errors"
	"math"
	"time"
)

// Default memory bounds (see Options).
const (
	// DefaultMaxPendingRows bounds the counter rows held in memory: a row
	// costs 150 to 250 bytes with its key strings, so about 250 MB.
	DefaultMaxPendingRows = 1_000_000
	// DefaultMaxVisitorPairs bounds the day's (visitor, value) pairs: 10 to
	// 15 bytes each, at most 240 MB.
	DefaultMaxVisitorPairs = 16_000_000
	// DefaultMaxOpenKeys bounds the remembered email opens: 15 to 23 bytes
	// each, at most 190 MB.
	DefaultMaxOpenKeys = 8_000_000
	// DefaultRetryAfter is the wait suggested to a hit shed over the
	// counter rows or open keys: the aggregator's default flush interval,
	// after which the rows are out of memory.
	DefaultRetryAfter = 10 * time.Second
)

// bound turns a configured bound into a comparable one: 0 is the default,
// a negative value no bound.
func bound(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return math.MaxInt
	}
	return n
}

// share is one site's part of a memory bound (see Options.Sites), or -1
// for no bound. Shares are equal and add up to at most the bound, so the
// bound holds however the sites fill theirs, and one site filling its
// share (a popular day, or one client making up visitors) sheds only that
// site's hits: the others keep counting. The price: a site never uses
// more than its share, even while the others leave theirs empty.
func share(bound, sites int) int {
	if bound == math.MaxInt {
		return -1
	}
	return max(bound/max(sites, 1), 1)
}

// Reasons for shedding, as metric labels.
const (
	ShedCounterRows  = "counter_rows"
	ShedVisitorPairs = "visitor_pairs"
	ShedOpenKeys     = "open_keys"
)

// ErrOverloaded is what every *OverloadError is (errors.Is): a memory
// bound was reached and nothing of the hit was counted. The API answers
// 503 with Retry-After; pixels still answer the image.
var ErrOverloaded = errors.New("over the memory bound")

// OverloadError says which bound shed a hit and when to try again.
type OverloadError struct {
	Reason     string // ShedCounterRows, ShedVisitorPairs or ShedOpenKeys
	RetryAfter time.Duration
}

func (e *OverloadError) Error() string {
	return "collector is over its memory bound (" + e.Reason + "): nothing was counted, retry later"
}

// Is makes errors.Is(err, ErrOverloaded) true.
func (e *OverloadError) Is(target error) bool { return target == ErrOverloaded }

// overVisitorPairs is the error of a hit shed over the visitor pairs: the
// day's pairs are released at midnight UTC, so that is when to retry.
func (p *Pipeline) overVisitorPairs() error {
	now := p.opts.Now().UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return &OverloadError{Reason: ShedVisitorPairs, RetryAfter: midnight.Sub(now)}
}

// overRows is checked first on every hit, before any work: the counter
// rows bound every kind of hit.
func (p *Pipeline) overRows() error {
	if p.opts.PendingRows() >= p.opts.MaxPendingRows {
		return p.errRows
	}
	return nil
}
