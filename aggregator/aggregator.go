package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
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

// Stats returns the counts for metrics.
func (a *Aggregator) Stats() Stats {
	return Stats{
		JournalFull:   a.journalFull.Load(),
		JournalErrors: a.journalErrors.Load(),
		AmbiguousRows: a.ambiguousRows.Load(),
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
