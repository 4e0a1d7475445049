package main

import (
	"context"
	"log/slog"
	"time"

	"tally/aggregator/clickhouse"
)

// Retention runs: once at start, then every retentionEvery; a failed run
// is tried again after retentionRetry.
const (
	retentionEvery = 24 * time.Hour
	retentionRetry = time.Hour
	// retentionTimeout bounds one run: a listing and a few ALTERs.
	retentionTimeout = 5 * time.Minute
)

// startRetention drops, once now and then daily, the monthly partitions of
// the counter tables that ended more than window ago (RETENTION_DROP):
// what the dashboards may no longer show is not kept either. The returned
// stop ends the loop and waits for a run in progress; call it before the
// sink is closed.
func startRetention(sink *clickhouse.Sink, window, every, retry time.Duration, now func() time.Time, logger *slog.Logger) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			wait := every
			if err := dropExpired(ctx, sink, now().Add(-window), logger); err != nil {
				if ctx.Err() != nil {
					return
				}
				logger.Warn("retention: cannot drop old partitions; trying again later", "err", err, "retry_in", retry.String())
				wait = retry
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	return func() error {
		cancel()
		<-done
		return nil
	}
}

// dropExpired is one run: the months that ended before cutoff are dropped.
func dropExpired(ctx context.Context, sink *clickhouse.Sink, cutoff time.Time, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, retentionTimeout)
	defer cancel()
	dropped, err := sink.DropBefore(ctx, cutoff)
	for _, p := range dropped {
		logger.Info("retention: dropped a month older than RETENTION", "partition", p.String())
	}
	return err
}
