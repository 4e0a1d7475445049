package aggregator

import "errors"

// sync moves the rows added since the last sync into the journal. Without
// a journal, or when it is full, they stay in memory.
func (a *Aggregator) sync() {
	a.mu.Lock()
	b := a.current
	// Sized like the last one: a map grown from empty every sync rehashes
	// its way up and leaves the smaller tables as garbage.
	a.current = newBatchSize(len(b.Web), len(b.Email))
	if a.held.Len() > 0 {
		a.held.Merge(b)
		b, a.held = a.held, NewBatch()
	}
	a.countRows()
	a.mu.Unlock()
	if b.Len() == 0 {
		return
	}
	if a.opts.Journal != nil {
		err := a.journal(b)
		if err == nil {
			return
		}
		if errors.Is(err, ErrJournalFull) {
			a.journalFull.Add(1)
		} else {
			a.journalErrors.Add(1)
			a.opts.Logger.Error("cannot write the spool; rows kept in memory", "rows", b.Len(), "err", err)
		}
	}
	a.mu.Lock()
	b.Merge(a.held)
	a.held = b
	a.countRows()
	a.mu.Unlock()
}

// journal appends b as an open segment and adds it to the in-memory sum.
func (a *Aggregator) journal(b *Batch) error {
	a.jmu.Lock()
	defer a.jmu.Unlock()
	seq, err := a.opts.Journal.Append(b)
	if err != nil {
		return err
	}
	if a.journaled != nil {
		a.journaled.Merge(b)
	}
	a.journaledSeqs = append(a.journaledSeqs, seq)
	return nil
}

// releaseJournaled drops the in-memory sum of the open segments; they stay
// on disk.
func (a *Aggregator) releaseJournaled() {
	a.jmu.Lock()
	a.journaled = nil
	a.jmu.Unlock()
}

// seal replaces the open segments by one sealed segment and returns it with
// its rows; rows is nil when nothing was open.
func (a *Aggregator) seal() (seq uint64, rows *Batch, err error) {
	a.jmu.Lock()
	defer a.jmu.Unlock()
	if len(a.journaledSeqs) == 0 {
		return 0, nil, nil
	}
	if a.journaled == nil {
		sum := NewBatch()
		for _, q := range a.journaledSeqs {
			b, err := a.opts.Journal.Read(q)
			if err != nil {
				return 0, nil, err
			}
			sum.Merge(b)
		}
		a.journaled = sum
	}
	seq, err = a.opts.Journal.Seal(a.journaledSeqs, a.journaled)
	if err != nil {
		return 0, nil, err
	}
	rows = a.journaled
	a.journaled, a.journaledSeqs = newBatchSize(len(rows.Web), len(rows.Email)), nil
	return seq, rows, nil
}
