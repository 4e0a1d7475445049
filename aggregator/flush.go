package aggregator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tally/counter"
)

// Flush writes everything pending to the sink now: the journal's backlog,
// oldest first and in chunks of at most FlushRows rows, then the rows held
// in memory. On failure what was not stored is kept (in the journal, or in
// memory) for the next flush, and the error is returned. A journal that
// fails does not stop the rows in memory from being written.
func (a *Aggregator) Flush(ctx context.Context) error {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("cannot flush: %w", ctx.Err())
	}
	defer func() { <-a.sem }()
	a.sync()
	if a.opts.Journal != nil {
		a.journalHeld()
		if err := a.flushJournal(ctx); err != nil {
			if !errors.Is(err, errJournal) {
				return err // the sink failed: memory would fail too
			}
			// The disk failed: what is in memory can still be stored.
		}
	}
	return a.flushMemory(ctx)
}

// errJournal marks a flushJournal error of the journal, not the sink.
var errJournal = errors.New("spool")

// flushJournal sends the sealed segments, then seals and sends the open
// ones, one chunk at a time.
func (a *Aggregator) flushJournal(ctx context.Context) error {
	j := a.opts.Journal
	if len(j.Sealed()) == 0 && a.openSegments() == 0 {
		return nil
	}
	dedup, err := a.deduplicates(ctx)
	if err != nil {
		a.releaseJournaled()
		return err
	}
	// Segments that were sealed before are sent first, in order, each with
	// its own token (read back from disk: this is the retry path, not the
	// steady state); only then are the open segments sealed and sent.
	// While an older one fails, the open segments wait on disk, to be
	// sealed into chunks when the sink is back, and their sum is not held.
	for _, seq := range j.Sealed() {
		if err := a.sendSegment(ctx, seq, nil, dedup); err != nil {
			a.releaseJournaled()
			return err
		}
	}
	// Each round seals at least one open segment: segments appended
	// meanwhile wait for the next flush.
	for n := a.openSegments(); n > 0; n-- {
		seq, rows, err := a.seal()
		if err != nil {
			return fmt.Errorf("%w: %w", errJournal, err)
		}
		if rows == nil {
			break
		}
		if err := a.sendSegment(ctx, seq, rows, dedup); err != nil {
			a.releaseJournaled()
			return err
		}
	}
	return nil
}

// deduplicates asks the sink, once, whether it deduplicates tokens.
func (a *Aggregator) deduplicates(ctx context.Context) (bool, error) {
	if a.dedup != nil {
		return *a.dedup, nil
	}
	d, ok := a.opts.Sink.(Deduplicator)
	if !ok {
		a.dedup = new(bool)
		return false, nil
	}
	ctx, cancel := a.writeCtx(ctx)
	defer cancel()
	v, err := d.Deduplicates(ctx)
	if err != nil {
		a.noteWrite(err)
		a.opts.Logger.Warn("flush failed; rows kept for retry", "err", err)
		return false, fmt.Errorf("cannot reach the sink: %w", err)
	}
	a.dedup = &v
	return v, nil
}

// sendSegment stores one sealed segment, whose rows are b (read from the
// journal when nil): web rows, then email rows, each once. On a sink that
// cannot deduplicate, the start of each write is recorded in the journal
// before the write, so that a write cut short by a crash is known at the
// next start and dropped as ambiguous there rather than sent twice; a
// journal that cannot record it holds the segment back (it waits on disk).
func (a *Aggregator) sendSegment(ctx context.Context, seq uint64, b *Batch, dedup bool) error {
	j := a.opts.Journal
	p, ok := a.progress[seq]
	if !ok {
		p = j.Progress(seq)
	}
	if p.Web == PartDone && p.Email == PartDone {
		return a.removeSegment(seq, p)
	}
	if b == nil {
		var err error
		if b, err = j.Read(seq); errors.Is(err, ErrJournalCorrupt) {
			a.quarantine(seq, err)
			return nil
		} else if err != nil {
			a.journalFault("cannot read a spool segment", 0, err)
			return fmt.Errorf("%w: %w", errJournal, err)
		}
	}
	a.setReplaying(b.Len())
	defer a.setReplaying(0)
	token := j.Token(seq)
	parts := []struct {
		state *PartState
		rows  *Batch
		name  string
	}{
		{&p.Web, &Batch{Web: b.Web, Email: map[counter.EmailKey]counter.EmailCounts{}}, "web"},
		{&p.Email, &Batch{Web: map[counter.WebKey]counter.WebCounts{}, Email: b.Email}, "email"},
	}
	for _, part := range parts {
		if part.rows.Len() == 0 {
			*part.state = PartDone
		}
		switch {
		case *part.state == PartDone:
			continue
		case *part.state == PartSending && !dedup:
			// Started before a crash, or before a record failed: it may
			// be stored, and a resend could count it twice.
			a.dropAmbiguous(part.rows, errors.New("a write of this spool segment was under way when the collector stopped"))
			*part.state = PartDone
			continue
		}
		if !dedup {
			*part.state = PartSending
			if err := a.record(seq, p); err != nil {
				*part.state = PartPending
				a.progress[seq] = p
				return fmt.Errorf("%w: cannot record a write before it starts, segment held back: %w", errJournal, err)
			}
		}
		if err := a.write(ctx, part.rows, token+"/"+part.name); err != nil {
			if !dedup {
				*part.state = PartPending // definite: nothing was stored
				if a.record(seq, p) != nil {
					a.progress[seq] = p
				}
			}
			return err
		}
		*part.state = PartDone
		// Kept in memory until the next record or the removal: a retry
		// of this segment by this process skips what is stored.
		a.progress[seq] = p
	}
	return a.removeSegment(seq, p)
}

// record writes a segment's progress to the journal; where it cannot, the
// progress is kept in memory (so this process never resends a stored
// table) and the error returned.
func (a *Aggregator) record(seq uint64, p Progress) error {
	if err := a.opts.Journal.SetProgress(seq, p); err != nil {
		a.progress[seq] = p
		a.journalFault("cannot record spool progress", 0, err)
		return err
	}
	delete(a.progress, seq)
	return nil
}

// removeSegment deletes a stored segment. If the journal cannot, the
// segment is remembered as stored, never sent again by this process, and
// its removal retried on the next flush; its progress is recorded on disk
// where possible, so that a restart does not resend it either.
func (a *Aggregator) removeSegment(seq uint64, p Progress) error {
	if err := a.opts.Journal.Remove(seq); err != nil {
		a.progress[seq] = p
		if rerr := a.opts.Journal.SetProgress(seq, p); rerr == nil {
			delete(a.progress, seq)
		}
		a.journalFault("cannot remove a stored spool segment; it will not be sent again", 0, err)
		return nil
	}
	delete(a.progress, seq)
	a.noteJournal(nil)
	return nil
}

func (a *Aggregator) setReplaying(n int) {
	a.mu.Lock()
	a.replaying = n
	a.countRows()
	a.mu.Unlock()
}

// flushMemory writes the rows held in memory, in chunks of at most
// FlushRows rows, each with a token of its own that it keeps until it is
// stored.
func (a *Aggregator) flushMemory(ctx context.Context) error {
	a.mu.Lock()
	if a.held.Len() > 0 {
		for _, b := range split(a.held, a.opts.FlushRows) {
			a.queue = append(a.queue, &memWrite{b: b, token: fmt.Sprintf("%s-%d", a.tokens, a.memSeq.Add(1))})
			a.queueRows += b.Len()
		}
		a.held = NewBatch()
		a.countRows()
	}
	a.mu.Unlock()
	for {
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.mu.Unlock()
			return nil
		}
		w := a.queue[0]
		a.mu.Unlock()
		if len(w.b.Web) > 0 {
			if err := a.write(ctx, &Batch{Web: w.b.Web, Email: map[counter.EmailKey]counter.EmailCounts{}}, w.token+"/web"); err != nil {
				return err
			}
			a.mu.Lock()
			a.queueRows -= len(w.b.Web)
			w.b.Web = map[counter.WebKey]counter.WebCounts{}
			a.countRows()
			a.mu.Unlock()
		}
		if len(w.b.Email) > 0 {
			if err := a.write(ctx, &Batch{Web: map[counter.WebKey]counter.WebCounts{}, Email: w.b.Email}, w.token+"/email"); err != nil {
				return err
			}
		}
		a.mu.Lock()
		a.queueRows -= len(w.b.Email)
		a.queue = a.queue[1:]
		a.countRows()
		a.mu.Unlock()
	}
}

// split cuts b into batches of at most n rows.
func split(b *Batch, n int) []*Batch {
	if b.Len() <= n {
		return []*Batch{b}
	}
	var out []*Batch
	cur := NewBatch()
	next := func() {
		if cur.Len() >= n {
			out = append(out, cur)
			cur = NewBatch()
		}
	}
	for k, c := range b.Web {
		cur.Web[k] = c
		next()
	}
	for k, c := range b.Email {
		cur.Email[k] = c
		next()
	}
	if cur.Len() > 0 {
		out = append(out, cur)
	}
	return out
}

// writeCtx bounds one write by InsertTimeout.
func (a *Aggregator) writeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.opts.InsertTimeout)
}

// write sends one batch; an ambiguous failure drops the rows, counts their
// hits and is not an error (see ErrAmbiguous).
func (a *Aggregator) write(ctx context.Context, b *Batch, token string) error {
	ctx, cancel := a.writeCtx(ctx)
	defer cancel()
	start := time.Now()
	err := a.opts.Sink.Write(ctx, b, token)
	took := time.Since(start)
	if a.opts.OnFlush != nil {
		a.opts.OnFlush(b.Len(), took, err)
	}
	switch {
	case err == nil:
		a.noteWrite(nil)
		a.opts.Logger.Debug("flushed", "rows", b.Len(), "took", took)
		return nil
	case errors.Is(err, ErrAmbiguous):
		a.noteWrite(nil) // the server answered or was reached: not a failing sink
		a.dropAmbiguous(b, err)
		return nil
	}
	a.noteWrite(err)
	a.opts.Logger.Warn("flush failed; rows kept for retry", "rows", b.Len(), "err", err)
	return fmt.Errorf("cannot flush %d rows: %w", b.Len(), err)
}

// dropAmbiguous counts and logs rows dropped because a write of them may
// or may not have been stored.
func (a *Aggregator) dropAmbiguous(b *Batch, err error) {
	hits := b.Hits()
	a.ambiguousHits.Add(uint64(hits))
	a.opts.Logger.Error("flush outcome unknown; not retried to avoid double counting", "rows", b.Len(), "hits", hits, "err", err)
}
