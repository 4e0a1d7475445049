package aggregator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// ErrJournalCorrupt is returned by Journal.Read for a segment whose bytes
// are damaged: it is moved aside (Quarantine), never counted.
var ErrJournalCorrupt = errors.New("corrupt spool segment")

// Sink receives batches. Write stores the whole batch or returns an error.
// token is the same for every retry of the same rows, and differs between
// any two writes of different rows (even rows that are equal): a sink whose
// server supports it deduplicates on it.
type Sink interface {
	Write(ctx context.Context, b *Batch, token string) error
}

// Deduplicator is implemented by a Sink that can tell whether its server
// drops a write whose token it stored before. Such a write may always be
// resent; on any other sink, a write whose outcome is unknown is dropped
// rather than resent (see ErrAmbiguous). err means the sink cannot tell
// yet (its server is unreachable).
type Deduplicator interface {
	Deduplicates(ctx context.Context) (bool, error)
}

// PartState is how far one table's rows of a sealed segment got.
type PartState uint8

const (
	// PartPending: not sent, or refused for certain.
	PartPending PartState = iota
	// PartSending: a write was started and its outcome is not known yet:
	// recorded before the write, so that a crash during it is known at
	// the next start.
	PartSending
	// PartDone: stored, or dropped as ambiguous; never sent again.
	PartDone
)

// Progress is how far a sealed segment's web and email rows got.
type Progress struct{ Web, Email PartState }

// Journal keeps deltas on disk between a sync and the flush that stores
// them (see package spool). Appended segments are "open"; Seal replaces
// some of them by one sealed segment, which keeps its token until it is
// stored and records the progress of its writes.
type Journal interface {
	Append(b *Batch) (uint64, error)
	// Seal stores merged, the sum of sources, as one sealed segment and
	// removes sources. A single source may be sealed by renaming it.
	Seal(sources []uint64, merged *Batch) (uint64, error)
	Unsealed() []uint64
	Sealed() []uint64
	Read(seq uint64) (*Batch, error)
	Progress(seq uint64) Progress
	// SetProgress records p durably before it returns.
	SetProgress(seq uint64, p Progress) error
	Remove(seq uint64) error
	// Quarantine moves a corrupt segment aside.
	Quarantine(seq uint64) error
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
	// SyncInterval is the time between journal writes (default 500ms). The
	// journal is written on its own goroutine: a flush waiting on the sink
	// never delays it.
	SyncInterval time.Duration
	// FlushInterval is the timer between flushes (default 10s).
	FlushInterval time.Duration
	// FlushRows triggers an early flush when this many rows are in memory,
	// and is the most rows one write carries: a backlog is replayed in
	// chunks of this size, so that replaying costs this much memory, and a
	// write whose outcome is unknown costs at most this much (default
	// 50,000).
	FlushRows int
	// InsertTimeout bounds one write to the sink (default 10s).
	InsertTimeout time.Duration
	// MaxValuesPerHour is how many distinct values one free-text
	// dimension (counter.FreeText) of one site may count in an hour;
	// further new values are counted under counter.Overflow, "(other)".
	// Totals and closed-set dimensions are never capped. 0:
	// DefaultMaxValuesPerHour; negative: no cap.
	MaxValuesPerHour int
	Logger           *slog.Logger
	// OnFlush, if set, is told the outcome of every write (for metrics).
	OnFlush func(rows int, took time.Duration, err error)
}

// Defaults of Options.
const (
	DefaultSyncInterval  = 500 * time.Millisecond
	DefaultFlushInterval = 10 * time.Second
	DefaultFlushRows     = 50_000
	DefaultInsertTimeout = 10 * time.Second
	// DefaultMaxValuesPerHour: the dashboards list at most 1,000 values of
	// a dimension (stats.MaxLimit) and show the top 10 to 100, so more
	// distinct values in one hour is a long tail no one reads, or a client
	// making up values. It keeps the worst one site can do to the tables
	// and to memory at 1,000 rows per dimension and hour: 6 dimensions
	// take free text (path, source, three UTM tags, event), so 6,000 new
	// rows an hour, 0.6% of the default bound on pending rows, where a
	// flood of random values would add up to 6 rows per hit.
	DefaultMaxValuesPerHour = 1000
)

func (o *Options) validate() error {
	if o.Sink == nil {
		return errors.New("aggregator: a sink is required")
	}
	if o.FlushInterval < 0 || o.FlushRows < 0 || o.InsertTimeout < 0 || o.SyncInterval < 0 {
		return errors.New("aggregator: negative flush setting")
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.FlushRows == 0 {
		o.FlushRows = DefaultFlushRows
	}
	if o.InsertTimeout == 0 {
		o.InsertTimeout = DefaultInsertTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxValuesPerHour == 0 {
		o.MaxValuesPerHour = DefaultMaxValuesPerHour
	}
	return nil
}

// Stats are counts for metrics.
type Stats struct {
	// JournalFull counts syncs that found the journal full; their rows
	// stay in memory until there is room.
	JournalFull uint64
	// JournalErrors counts journal operations that failed (a write, a
	// seal, a progress record, a removal).
	JournalErrors uint64
	// Corrupt counts damaged journal segments moved aside.
	Corrupt uint64
	// AmbiguousHits counts hits (page views, events, email opens and sent
	// reports) in writes dropped because their outcome is unknown (see
	// ErrAmbiguous).
	AmbiguousHits uint64
	// OverflowValues counts updates counted under counter.Overflow
	// because their dimension had its quota of values for the hour.
	OverflowValues uint64
}

// Aggregator holds the counters between flushes. Add methods are safe for
// concurrent use; Run syncs and flushes in the background until Stop.
type Aggregator struct {
	opts Options
	// tokens prefixes the tokens of rows written straight from memory:
	// random per process, so no two writes ever share a token.
	tokens string
	memSeq atomic.Uint64

	mu      sync.Mutex
	current *Batch    // since the last sync
	cap     *valueCap // nil: no cap
	// held are rows only in memory, not yet given to a write: with no
	// journal, everything not yet stored; with a journal, rows it refused.
	held *Batch
	// queue are writes of held rows, each with its token: once tried, a
	// write is retried with the same rows and token until it is stored,
	// never merged with newer rows.
	queue     []*memWrite
	queueRows int
	// replaying counts the rows of the journal chunk being sent.
	replaying int

	// sem holds one flush at a time; a channel, so that Stop can give up
	// waiting for it.
	sem chan struct{}
	// progress is segment progress that could not be recorded in the
	// journal (a read-only or failing disk): it is kept here so that a
	// stored table is never sent again by this process. Guarded by sem.
	progress map[uint64]Progress
	dedup    *bool // the sink's answer, once known; guarded by sem

	// journaled is the sum of the journal's open segments, numbered in
	// journaledSeqs, kept in memory so that a flush seals them without
	// reading them back. It is nil when not held: after a restart, and
	// during an outage, when it is dropped so that a backlog costs disk and
	// not memory; sealing then reads the segments back. Guarded by jmu,
	// which orders appends and seals.
	jmu           sync.Mutex
	journaled     *Batch
	journaledSeqs []uint64

	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{} // Run returned
	syncDone chan struct{} // the sync loop returned
	once     sync.Once
	started  atomic.Bool
	// runCtx is the context of Run's flushes, cancelled when Stop's own
	// deadline passes.
	runCtx    context.Context
	cancelRun context.CancelFunc

	journalFull, journalErrors, corrupt, ambiguousHits atomic.Uint64
	// rows mirrors Pending, stored under mu, so that the per-hit
	// memory-bound check reads it without taking the lock.
	rows atomic.Int64

	hmu          sync.Mutex
	spoolErr     error // the last journal fault, nil once an operation succeeds
	failedWrites int   // consecutive failed writes to the sink
	lastWriteErr error
}

// memWrite is rows taken from memory for one write, with their token.
type memWrite struct {
	b     *Batch
	token string
}

// New makes an Aggregator; call Run to start the timers. With a journal,
// its first flush replays what a previous run left there.
func New(opts Options) (*Aggregator, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	var id [12]byte
	rand.Read(id[:])
	a := &Aggregator{
		opts:      opts,
		tokens:    "m" + hex.EncodeToString(id[:]),
		current:   NewBatch(),
		held:      NewBatch(),
		journaled: NewBatch(),
		sem:       make(chan struct{}, 1),
		progress:  map[uint64]Progress{},
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		syncDone:  make(chan struct{}),
	}
	if opts.MaxValuesPerHour > 0 {
		a.cap = newValueCap(opts.MaxValuesPerHour)
	}
	a.runCtx, a.cancelRun = context.WithCancel(context.Background())
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
		JournalFull:    a.journalFull.Load(),
		JournalErrors:  a.journalErrors.Load(),
		Corrupt:        a.corrupt.Load(),
		AmbiguousHits:  a.ambiguousHits.Load(),
		OverflowValues: a.overflowValues(),
	}
}

func (a *Aggregator) overflowValues() uint64 {
	if a.cap == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cap.folded
}

// Health is nil unless the last two writes to the sink failed (and none
// succeeded since): then every flush is failing, and it says why.
func (a *Aggregator) Health() error {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	if a.failedWrites >= 2 {
		return fmt.Errorf("the last %d writes to ClickHouse failed: %w", a.failedWrites, a.lastWriteErr)
	}
	return nil
}

// Degraded is nil unless the last journal operation failed: then rows are
// written to the sink straight from memory, and a crash loses what is in
// memory (up to a flush interval) instead of a sync interval.
func (a *Aggregator) Degraded() error {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	return a.spoolErr
}

func (a *Aggregator) noteWrite(err error) {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	if err == nil {
		a.failedWrites, a.lastWriteErr = 0, nil
		return
	}
	a.failedWrites++
	a.lastWriteErr = err
}

// noteJournal records the outcome of a journal operation for Degraded.
func (a *Aggregator) noteJournal(err error) {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	a.spoolErr = err
}

// Run syncs and flushes on the timers (and flushes on size) until Stop is
// called. Its first flush replays whatever the journal holds. The journal
// is synced on a goroutine of its own, so a flush that waits on the sink
// never delays a sync.
func (a *Aggregator) Run() {
	a.started.Store(true)
	defer close(a.done)
	if a.opts.Journal != nil {
		go a.syncLoop()
		a.requestFlush() // replay the journal now, not one interval later
	} else {
		close(a.syncDone)
	}
	flushT := time.NewTicker(a.opts.FlushInterval)
	defer flushT.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-flushT.C:
		case <-a.kick:
		}
		select {
		case <-a.stop: // a tick that came with it: Stop makes the last flush
			return
		default:
		}
		_ = a.Flush(a.runCtx) // logged; retried on the next tick
	}
}

func (a *Aggregator) syncLoop() {
	defer close(a.syncDone)
	t := time.NewTicker(a.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.sync()
		}
	}
}

// Stop ends the timers, syncs the journal one last time (before anything
// waits on the sink) and makes a last flush; it returns by ctx's deadline
// even if the sink hangs (a write in progress then may or may not be
// stored; see ErrAmbiguous). Rows that could not be stored stay in the
// journal for the next start; the error says how many were only in
// memory. The caller stops intake first.
func (a *Aggregator) Stop(ctx context.Context) error {
	a.once.Do(func() { close(a.stop) })
	if a.started.Load() {
		select {
		case <-a.syncDone:
		case <-ctx.Done():
		}
	}
	if a.opts.Journal != nil {
		a.sync()
	}
	defer context.AfterFunc(ctx, a.cancelRun)()
	if a.started.Load() {
		select {
		case <-a.done:
		case <-ctx.Done():
		}
	}
	err := a.Flush(ctx)
	if n := a.memoryOnly(); n > 0 {
		return errors.Join(err, fmt.Errorf("%d counter rows were only in memory and are lost: %w", n, ErrRowsLost))
	}
	if err != nil && a.opts.Journal != nil {
		return fmt.Errorf("rows left in the spool for the next start: %w", err)
	}
	return err
}

// ErrRowsLost is wrapped by Stop when counter rows could be neither
// written nor spooled: the hits they counted are gone, so whatever
// remembers those hits as seen (the day's visitors) must not outlive the
// process either.
var ErrRowsLost = errors.New("counter rows lost")

// memoryOnly is how many rows are in memory and nowhere else.
func (a *Aggregator) memoryOnly() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.current.Len() + a.held.Len() + a.queueRows
}
