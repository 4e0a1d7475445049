package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// reload re-reads every list of l. A list that fails to load keeps its
// previous version, and the failure is logged; the errors of netclass and
// spam name the file and line, never its content, so no address reaches
// the log.
func (l layers) reload(logger *slog.Logger) {
	if err := l.dataCentres.Reload(); err != nil {
		logger.Error("cannot reload data-centre ranges; previous list kept", "err", err)
	} else {
		v4, v6 := l.dataCentres.Len()
		logger.Info("reloaded data-centre ranges", "ipv4_ranges", v4, "ipv6_ranges", v6)
	}
	if err := l.spam.Reload(); err != nil {
		logger.Error("cannot reload referrer spam list; previous list kept", "err", err)
	} else {
		logger.Info("reloaded referrer spam list", "hosts", l.spam.Len())
	}
}

// reloadOnSIGHUP runs every reload (the TLS certificate, the lists) on
// every SIGHUP until ctx ends or the returned stop is called. SIGHUP is
// caught from the moment this returns, so that a reload signal never ends
// the process. Each reload logs its own outcome and keeps what it had on
// failure.
func reloadOnSIGHUP(ctx context.Context, logger *slog.Logger, reloads ...func(*slog.Logger)) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				for _, r := range reloads {
					r(logger)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
