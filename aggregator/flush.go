package aggregator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tally/counter"
)

// Flush writes everything pending to the sink now. On failure what was not
// stored is kept (in the journal, or in memory without one) for the next
// flush, and the error is returned.
func (a *Aggregator) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	if a.opts.Journal == nil {
		return a.flushMemory(ctx)
	}
	a.sync()
	// Segments that were sent before are retried first, in order, each with
	// its own token (read back from disk: this is the retry path, not the
	// steady state); only then are the open segments sealed and sent. While
	// an older one fails, the open segments wait on disk, to be sealed into
	// one insert when ClickHouse is back, and their sum is not held.
	for _, seq := range a.opts.Journal.Sealed() {
		b, err := a.opts.Journal.Read(seq)
		if err == nil {
			err = a.sendSegment(ctx, seq, b)
		}
		if err != nil {
			a.releaseJournaled()
			return err
		}
	}
	seq, rows, err := a.seal()
	if err != nil {
		return fmt.Errorf("cannot seal spool segments: %w", err)
	}
	if rows != nil {
		if err := a.sendSegment(ctx, seq, rows); err != nil {
			return err
		}
	}
	// Rows the spool had no room for: now that it is drained, try it again,
	// and write what still does not fit straight from memory.
	a.sync()
	if a.Pending() > 0 {
		return a.flushHeld(ctx)
	}
	return nil
}

// sendSegment stores one sealed segment, whose rows are b: web rows, then
// (after recording that progress) email rows, then removes it.
func (a *Aggregator) sendSegment(ctx context.Context, seq uint64, b *Batch) error {
	j := a.opts.Journal
	token := j.Token(seq)
	if len(b.Web) > 0 {
		if err := a.write(ctx, &Batch{Web: b.Web}, token+"/web"); err != nil {
			return err
		}
		if len(b.Email) > 0 {
			if err := j.Replace(seq, &Batch{Email: b.Email}); err != nil {
				return fmt.Errorf("cannot record flush progress: %w", err)
			}
		}
	}
	if len(b.Email) > 0 {
		if err := a.write(ctx, &Batch{Email: b.Email}, token+"/email"); err != nil {
			return err
		}
	}
	if err := j.Remove(seq); err != nil {
		return fmt.Errorf("cannot remove stored spool segment: %w", err)
	}
	return nil
}

// write sends one batch; an ambiguous failure counts the rows as dropped
// and is not an error (see ErrAmbiguous).
func (a *Aggregator) write(ctx context.Context, b *Batch, token string) error {
	start := time.Now()
	err := a.opts.Sink.Write(ctx, b, token)
	took := time.Since(start)
	if a.opts.OnFlush != nil {
		a.opts.OnFlush(b.Len(), took, err)
	}
	switch {
	case err == nil:
		a.opts.Logger.Debug("flushed", "rows", b.Len(), "took", took)
		return nil
	case errors.Is(err, ErrAmbiguous):
		a.ambiguousRows.Add(uint64(b.Len()))
		a.opts.Logger.Error("flush outcome unknown; not retried to avoid double counting", "rows", b.Len(), "err", err)
		return nil
	}
	a.opts.Logger.Warn("flush failed; rows kept for retry", "rows", b.Len(), "err", err)
	return fmt.Errorf("cannot flush %d rows: %w", b.Len(), err)
}

// flushMemory is Flush without a journal.
func (a *Aggregator) flushMemory(ctx context.Context) error {
	a.sync() // moves current into held
	return a.flushHeld(ctx)
}

// flushHeld writes the rows held in memory, one table at a time, keeping
// what fails.
func (a *Aggregator) flushHeld(ctx context.Context) error {
	a.mu.Lock()
	b := a.held
	a.held = NewBatch()
	a.inflight = b.Len()
	a.countRows()
	a.mu.Unlock()
	var err error
	if len(b.Web) > 0 {
		if err = a.write(ctx, &Batch{Web: b.Web, Email: map[counter.EmailKey]counter.EmailCounts{}}, ""); err == nil {
			b.Web = map[counter.WebKey]counter.WebCounts{}
		}
	}
	if err == nil && len(b.Email) > 0 {
		if err = a.write(ctx, &Batch{Web: map[counter.WebKey]counter.WebCounts{}, Email: b.Email}, ""); err == nil {
			b.Email = map[counter.EmailKey]counter.EmailCounts{}
		}
	}
	a.mu.Lock()
	a.held.Merge(b)
	a.inflight = 0
	a.countRows()
	a.mu.Unlock()
	return err
}
