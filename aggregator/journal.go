package aggregator

import (
	"errors"
	"fmt"
	"slices"
)

// sync moves the rows added since the last sync into the journal. Without
// a journal, or when it refuses them, they are held in memory, to be
// written from there.
func (a *Aggregator) sync() {
	a.mu.Lock()
	b := a.current
	// Sized like the last one: a map grown from empty every sync rehashes
	// its way up and leaves the smaller tables as garbage.
	a.current = newBatchSize(len(b.Web), len(b.Email))
	if a.opts.Journal == nil && b.Len() > 0 {
		a.held.Merge(b)
		b = NewBatch()
	}
	a.countRows()
	a.mu.Unlock()
	if b.Len() == 0 {
		return
	}
	if err := a.journal(b); err != nil {
		a.hold(b)
	}
}

// journalHeld gives the rows held in memory (never sent) another chance
// at the journal, once per flush: a disk that failed may be back.
func (a *Aggregator) journalHeld() {
	a.mu.Lock()
	b := a.held
	a.held = NewBatch()
	a.countRows()
	a.mu.Unlock()
	if b.Len() == 0 {
		return
	}
	if err := a.journal(b); err != nil {
		a.hold(b)
	}
}

// hold keeps rows the journal refused in memory.
func (a *Aggregator) hold(b *Batch) {
	a.mu.Lock()
	a.held.Merge(b)
	a.countRows()
	a.mu.Unlock()
}

// journal appends b as an open segment and adds it to the in-memory sum.
func (a *Aggregator) journal(b *Batch) error {
	a.jmu.Lock()
	defer a.jmu.Unlock()
	seq, err := a.opts.Journal.Append(b)
	if err != nil {
		a.journalFault("cannot write the spool; rows kept in memory and written from there", b.Len(), err)
		return err
	}
	a.noteJournal(nil)
	if a.journaled != nil {
		a.journaled.Merge(b)
	}
	a.journaledSeqs = append(a.journaledSeqs, seq)
	return nil
}

// journalFault counts and logs a failed journal operation.
func (a *Aggregator) journalFault(msg string, rows int, err error) {
	if errors.Is(err, ErrJournalFull) {
		a.journalFull.Add(1)
	} else {
		a.journalErrors.Add(1)
	}
	a.noteJournal(err)
	a.opts.Logger.Error(msg, "rows", rows, "err", err)
}

// releaseJournaled drops the in-memory sum of the open segments; they stay
// on disk.
func (a *Aggregator) releaseJournaled() {
	a.jmu.Lock()
	a.journaled = nil
	a.jmu.Unlock()
}

// openSegments is how many open segments there are now.
func (a *Aggregator) openSegments() int {
	a.jmu.Lock()
	defer a.jmu.Unlock()
	return len(a.journaledSeqs)
}

// seal replaces the oldest open segments, as many as make about FlushRows
// rows (at least one), by one sealed segment and returns it with its rows;
// rows is nil when nothing was open. In the steady state their sum is in
// memory; otherwise they are read back one by one, so that a backlog costs
// one chunk of memory. If the journal cannot write the merged segment
// (full, failing disk) the oldest segment alone is sealed, which is a
// rename and needs no room.
func (a *Aggregator) seal() (seq uint64, rows *Batch, err error) {
	a.jmu.Lock()
	defer a.jmu.Unlock()
	if len(a.journaledSeqs) == 0 {
		return 0, nil, nil
	}
	j := a.opts.Journal
	sources, sum := a.journaledSeqs, a.journaled
	if sum == nil || sum.Len() > a.opts.FlushRows {
		a.journaled = nil // the rest is read back when its turn comes
		sum, sources = NewBatch(), nil
		for _, q := range slices.Clone(a.journaledSeqs) {
			if len(sources) > 0 && sum.Len() >= a.opts.FlushRows {
				break
			}
			b, err := j.Read(q)
			if errors.Is(err, ErrJournalCorrupt) {
				a.quarantine(q, err)
				a.dropOpen(q)
				continue
			}
			if err != nil {
				return 0, nil, fmt.Errorf("cannot read spool segment: %w", err)
			}
			sum.Merge(b)
			sources = append(sources, q)
		}
		if len(sources) == 0 {
			return 0, nil, nil
		}
	}
	seq, err = j.Seal(sources, sum)
	if err != nil && len(sources) > 1 {
		a.journalFault("cannot seal spool segments; sending them one by one", sum.Len(), err)
		a.journaled = nil
		first, rerr := j.Read(sources[0])
		if rerr != nil {
			return 0, nil, fmt.Errorf("cannot read spool segment: %w", rerr)
		}
		sources, sum = sources[:1], first
		seq, err = j.Seal(sources, sum)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("cannot seal spool segments: %w", err)
	}
	for range sources {
		a.journaledSeqs = a.journaledSeqs[1:]
	}
	if a.journaled != nil {
		a.journaled = newBatchSize(len(sum.Web), len(sum.Email))
	}
	if len(a.journaledSeqs) == 0 && a.journaled == nil {
		a.journaled = NewBatch() // nothing left on disk only: sum in memory again
	}
	return seq, sum, nil
}

// dropOpen forgets an open segment; with jmu held.
func (a *Aggregator) dropOpen(seq uint64) {
	for i, q := range a.journaledSeqs {
		if q == seq {
			a.journaledSeqs = append(a.journaledSeqs[:i:i], a.journaledSeqs[i+1:]...)
			return
		}
	}
}

// quarantine moves a corrupt segment aside, counted and logged.
func (a *Aggregator) quarantine(seq uint64, cause error) {
	a.corrupt.Add(1)
	err := a.opts.Journal.Quarantine(seq)
	a.opts.Logger.Error("corrupt spool segment moved aside; its counts are lost", "segment", seq, "cause", cause, "err", err)
}
