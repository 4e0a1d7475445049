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

// Options configure an Aggregator.
type Options struct {
	Sink Sink
	// FlushInterval is the timer between flushes (default 10s).
	FlushInterval time.Duration
	// FlushRows triggers an early flush when the pending batch has this many
	// rows (default 50,000).
	FlushRows int
	// FlushTimeout bounds one write to the sink (default 30s).
	FlushTimeout time.Duration
	Logger       *slog.Logger
	// OnFlush, if set, is told the outcome of every flush (for metrics).
	OnFlush func(rows int, took time.Duration, err error)
}

func (o *Options) validate() error {
	if o.Sink == nil {
		return errors.New("aggregator: a sink is required")
	}
	if o.FlushInterval < 0 || o.FlushRows < 0 || o.FlushTimeout < 0 {
		return errors.New("aggregator: negative flush setting")
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

// Aggregator holds the counters between flushes. Add methods are safe for
// concurrent use; Run flushes in the background until Stop.
type Aggregator struct {
	opts Options

	mu      sync.Mutex
	current *Batch
	// failed holds a batch whose write failed; it is merged with the next one
	// and retried, so nothing is lost while the sink is down.
	failed *Batch

	flushMu sync.Mutex // one flush at a time
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started atomic.Bool
}

// New makes an Aggregator; call Run to start the flush timer.
func New(opts Options) (*Aggregator, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Aggregator{
		opts:    opts,
		current: NewBatch(),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}, nil
}

// WebUpdate is one web counter delta.
type WebUpdate struct {
	Dimension string
	Value     string
	Counts    WebCounts
}

// AddWeb adds deltas for one site and hour under one lock, so a hit is
// counted in all its dimensions or in none.
func (a *Aggregator) AddWeb(site string, hour int64, updates []WebUpdate) {
	a.mu.Lock()
	for _, u := range updates {
		k := WebKey{Site: site, Hour: hour, Dimension: u.Dimension, Value: u.Value}
		c := a.current.Web[k]
		c.add(u.Counts)
		a.current.Web[k] = c
	}
	full := a.current.Len() >= a.opts.FlushRows
	a.mu.Unlock()
	if full {
		a.requestFlush()
	}
}

// EmailUpdate is one email counter delta.
type EmailUpdate struct {
	Dimension string
	Value     string
	Counts    EmailCounts
}

// AddEmail adds deltas for one campaign and hour under one lock.
func (a *Aggregator) AddEmail(site, campaign string, hour int64, updates []EmailUpdate) {
	a.mu.Lock()
	for _, u := range updates {
		k := EmailKey{Site: site, Campaign: campaign, Hour: hour, Dimension: u.Dimension, Value: u.Value}
		c := a.current.Email[k]
		c.add(u.Counts)
		a.current.Email[k] = c
	}
	full := a.current.Len() >= a.opts.FlushRows
	a.mu.Unlock()
	if full {
		a.requestFlush()
	}
}

// Pending is the number of rows waiting for a flush, failed ones included.
func (a *Aggregator) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.current.Len()
	if a.failed != nil {
		n += a.failed.Len()
	}
	return n
}

func (a *Aggregator) requestFlush() {
	select {
	case a.kick <- struct{}{}:
	default: // a flush is already requested
	}
}

// Run flushes on the timer and on size until Stop is called. It returns when
// stopped.
func (a *Aggregator) Run() {
	a.started.Store(true)
	defer close(a.done)
	t := time.NewTicker(a.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
		case <-a.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.FlushTimeout)
		_ = a.Flush(ctx) // logged and retried on the next tick
		cancel()
	}
}

// Flush writes everything pending to the sink now. On failure the rows are
// kept for the next flush and the error is returned.
func (a *Aggregator) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()

	a.mu.Lock()
	b := a.current
	a.current = NewBatch()
	if a.failed != nil {
		a.failed.Merge(b)
		b, a.failed = a.failed, nil
	}
	a.mu.Unlock()
	if b.Len() == 0 {
		return nil
	}

	start := time.Now()
	err := a.opts.Sink.Write(ctx, b)
	took := time.Since(start)
	if a.opts.OnFlush != nil {
		a.opts.OnFlush(b.Len(), took, err)
	}
	if err != nil {
		a.mu.Lock()
		a.failed = b
		a.mu.Unlock()
		a.opts.Logger.Warn("flush failed; rows kept for retry", "rows", b.Len(), "err", err)
		return fmt.Errorf("cannot flush %d rows: %w", b.Len(), err)
	}
	a.opts.Logger.Debug("flushed", "rows", b.Len(), "took", took)
	return nil
}

// Stop ends the timer and makes a last flush, bounded by ctx. Hits added
// after Stop returns stay in memory, so the caller stops intake first.
func (a *Aggregator) Stop(ctx context.Context) error {
	a.once.Do(func() { close(a.stop) })
	if a.started.Load() {
		select {
		case <-a.done:
		case <-ctx.Done():
		}
	}
	return a.Flush(ctx)
}
