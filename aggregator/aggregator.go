package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"tally/counter"
)

// ErrAmbiguous marks a sink error after which the rows may or may not be
// stored, on a server that cannot deduplicate a retry. The aggregator does
// not retry such a write: a retry could count twice.
var ErrAmbiguous = errors.New("write outcome unknown and the server cannot deduplicate a retry")

// ErrJournalFull is returned by a Journal that has no room for a segment.
var ErrJournalFull = errors.New("spool is full")

// Sink receives batches. Write stores the whole batch or returns an error.
// token is the same for every retry of the same rows: a sink whose server
// supports it deduplicates on it.
type Sink interface {
	Write(ctx context.Context, b *Batch, token string) error
}

// Journal keeps deltas on disk between a sync and the flush that stores
// them (see package spool). Appended segments are "open"; Seal replaces
// them by one sealed segment, which keeps its token until it is stored.
type Journal interface {
	Append(b *Batch) (uint64, error)
	Seal(sources []uint64, merged *Batch) (uint64, error)
	Unsealed() []uint64
	Sealed() []uint64
	Read(seq uint64) (*Batch, error)
	Replace(seq uint64, b *Batch) error
	Remove(seq uint64) error
	Token(seq uint64) string
}

// Options configure an Aggregator.
type Options struct {
	Sink Sink
	// Journal, if set, receives the deltas every SyncInterval, so that a
	// crash loses at most that window and a ClickHouse outage loses nothing
	// while the journal has room. Without it, failed flushes are kept in
	// memory only.
	Journal Journal
	// SyncInterval is the time between journal writes (default 500ms).
	SyncInterval time.Duration
	// FlushInterval is the timer between flushes (default 10s).
	FlushInterval time.Duration
	// FlushRows triggers an early flush when this many rows are in memory
	// (default 50,000).
	FlushRows int
	// FlushTimeout bounds one write to the sink (default 30s).
	FlushTimeout time.Duration
	Logger       *slog.Logger
	// OnFlush, if set, is told the outcome of every write (for metrics).
	OnFlush func(rows int, took time.Duration, err error)
}

func (o *Options) validate() error {
	if o.Sink == nil {
		return errors.New("aggregator: a sink is required")
	}
	if o.FlushInterval < 0 || o.FlushRows < 0 || o.FlushTimeout < 0 || o.SyncInterval < 0 {
		return errors.New("aggregator: negative flush setting")
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = 500 * time.Millisecond
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 10 * time.Second
	}
	if o.FlushRows == 0 {
		o.FlushRows = 50_000
	}
	if o.FlushTimeout == 0 {
		o.FlushTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Stats are counts for metrics.
type Stats struct {
	// JournalFull counts syncs that found the journal full; their rows
	// stay in memory until there is room.
	JournalFull uint64
	// JournalErrors counts syncs that could not write the journal.
	JournalErrors uint64
	// AmbiguousRows counts rows dropped after an ambiguous write (see
	// ErrAmbiguous).
	AmbiguousRows uint64
}

// Aggregator holds the counters between flushes. Add methods are safe for
// concurrent use; Run syncs and flushes in the background until Stop.
type Aggregator struct {
	opts Options

	mu      sync.Mutex
	current *Batch // since the last sync
	// held are rows only in memory: with no journal, everything not yet
	// stored; with a journal, rows it had no room for.
	held *Batch
	// inflight counts held rows being written by flushHeld: still in
	// memory, so still under the memory bound.
	inflight int

	flushMu sync.Mutex // one flush at a time

	// journaled is the sum of the journal's open segments, numbered in
	// journaledSeqs, kept in memory so that a flush seals them without
	// reading them back. It is nil when not held: after a restart, and
	// during an outage, when it is dropped so that a backlog costs disk and
	// not memory; sealing then reads the segments back. Guarded by jmu,
	// which orders appends and seals.
	jmu           sync.Mutex
	journaled     *Batch
	journaledSeqs []uint64

	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started atomic.Bool

	journalFull, journalErrors, ambiguousRows atomic.Uint64
	// rows mirrors current.Len()+held.Len(), stored under mu, so that the
	// per-hit memory-bound check reads it without taking the lock.
	rows atomic.Int64
}

// New makes an Aggregator; call Run to start the timers. With a journal,
// its first flush replays what a previous run left there.
func New(opts Options) (*Aggregator, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	a := &Aggregator{
		opts:      opts,
		current:   NewBatch(),
		held:      NewBatch(),
		journaled: NewBatch(),
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if opts.Journal != nil {
		if a.journaledSeqs = opts.Journal.Unsealed(); len(a.journaledSeqs) > 0 {
			a.journaled = nil // on disk only
		}
	}
	return a, nil
}

// WebUpdate is one web counter delta.
type WebUpdate struct {
	Dimension string
	Value     string
	Counts    counter.WebCounts
}

// AddWeb adds deltas for one site and hour under one lock, so a hit is
// counted in all its dimensions or in none.
func (a *Aggregator) AddWeb(site string, hour int64, updates []WebUpdate) {
	a.mu.Lock()
	for _, u := range updates {
		k := counter.WebKey{Site: site, Hour: hour, Dimension: u.Dimension, Value: u.Value}
		c := a.current.Web[k]
		c.Add(u.Counts)
		a.current.Web[k] = c
	}
	full := a.countRows() >= a.opts.FlushRows
	a.mu.Unlock()
	if full {
		a.requestFlush()
	}
}

// EmailUpdate is one email counter delta.
type EmailUpdate struct {
	Dimension string
	Value     string
	Counts    counter.EmailCounts
}

// AddEmail adds deltas for one campaign and hour under one lock.
func (a *Aggregator) AddEmail(site, campaign string, hour int64, updates []EmailUpdate) {
	a.mu.Lock()
	for _, u := range updates {
		k := counter.EmailKey{Site: site, Campaign: campaign, Hour: hour, Dimension: u.Dimension, Value: u.Value}
		c := a.current.Email[k]
		c.Add(u.Counts)
		a.current.Email[k] = c
	}
	full := a.countRows() >= a.opts.FlushRows
	a.mu.Unlock()
	if full {
		a.requestFlush()
	}
}

// Pending is the number of counter rows in memory (not yet in the journal
// or the sink). It takes no lock: it is read for every hit.
func (a *Aggregator) Pending() int { return int(a.rows.Load()) }

// countRows refreshes rows; called with mu held after the maps change.
func (a *Aggregator) countRows() int {
	n := a.current.Len() + a.held.Len() + a.inflight
	a.rows.Store(int64(n))
	return n
}

// Stats returns the counts for metrics.
func (a *Aggregator) Stats() Stats {
	return Stats{
		JournalFull:   a.journalFull.Load(),
		JournalErrors: a.journalErrors.Load(),
		AmbiguousRows: a.ambiguousRows.Load(),
	}
}

func (a *Aggregator) requestFlush() {
	select {
	case a.kick <- struct{}{}:
	default: // a flush is already requested
	}
}

// Run syncs and flushes on the timers (and flushes on size) until Stop is
// called. Its first flush replays whatever the journal holds.
func (a *Aggregator) Run() {
	a.started.Store(true)
	defer close(a.done)
	flushT := time.NewTicker(a.opts.FlushInterval)
	defer flushT.Stop()
	var syncC <-chan time.Time
	if a.opts.Journal != nil {
		syncT := time.NewTicker(a.opts.SyncInterval)
		defer syncT.Stop()
		syncC = syncT.C
		a.requestFlush() // replay the journal now, not one interval later
	}
	for {
		select {
		case <-a.stop:
			return
		case <-syncC:
			a.sync()
			continue
		case <-flushT.C:
		case <-a.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.FlushTimeout)
		_ = a.Flush(ctx) // logged; retried on the next tick
		cancel()
	}
}

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

// Stop ends the timers and makes a last flush, bounded by ctx. Rows that
// could not be stored stay in the journal for the next start; the error
// says how many were only in memory. The caller stops intake first.
func (a *Aggregator) Stop(ctx context.Context) error {
	a.once.Do(func() { close(a.stop) })
	if a.started.Load() {
		select {
		case <-a.done:
		case <-ctx.Done():
		}
	}
	err := a.Flush(ctx)
	if n := a.Pending(); n > 0 {
		return errors.Join(err, fmt.Errorf("%d counter rows were only in memory and are lost", n))
	}
	if err != nil && a.opts.Journal != nil {
		return fmt.Errorf("rows left in the spool for the next start: %w", err)
	}
	return err
}
