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
