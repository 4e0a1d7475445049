package aggregator

import "tally/counter"

// Batch is a set of counter deltas.
type Batch struct {
	Web   map[counter.WebKey]counter.WebCounts
	Email map[counter.EmailKey]counter.EmailCounts
}

// NewBatch makes an empty batch.
func NewBatch() *Batch { return newBatchSize(0, 0) }

// newBatchSize makes an empty batch with room for web and email rows.
func newBatchSize(web, email int) *Batch {
	return &Batch{Web: make(map[counter.WebKey]counter.WebCounts, web), Email: make(map[counter.EmailKey]counter.EmailCounts, email)}
}

// Len is the number of rows in the batch.
func (b *Batch) Len() int { return len(b.Web) + len(b.Email) }

// Merge adds other's deltas into b.
func (b *Batch) Merge(other *Batch) {
	for k, d := range other.Web {
		c := b.Web[k]
		c.Add(d)
		b.Web[k] = c
	}
	for k, d := range other.Email {
		c := b.Email[k]
		c.Add(d)
		b.Email[k] = c
	}
}

// Hits is the number of hits the batch counts, which is what losing it
// would lose: every web hit adds one to exactly one consent or filtered
// row, every email open one to the total row (human or machine opens),
// every sent report one to the total row's sent count (counted here as one
// hit, however many emails it reports).
func (b *Batch) Hits() int64 {
	var n int64
	for k, c := range b.Web {
		if k.Dimension == counter.DimConsent || k.Dimension == counter.DimFiltered {
			n += c.Hits
		}
	}
	for k, c := range b.Email {
		if k.Dimension == counter.DimTotal {
			n += c.Opens - c.ImpliedOpens + c.MachineOpens + c.Clicks + c.MachineClicks
			if c.Sent != 0 {
				n++
			}
		}
	}
	return n
}
