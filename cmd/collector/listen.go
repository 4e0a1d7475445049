package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"tally/collector/clientip"
	"tally/collector/connlimit"
	"tally/collector/metrics"
	"tally/internal/certs"
)

// listeners are what serve listens with besides the Fiber app: the TLS
// certificate, the connection limiter and the metrics' own server.
type listeners struct {
	certs   *certs.Reloader // nil: plain HTTP
	limiter *connlimit.Limiter
	metrics *http.Server // nil: no metrics listener
}

// connReserve is how far fasthttp's own cap sits above the limiter's: a
// connection the limiter has released may hold its worker for a moment
// longer, and the newcomer must not get fasthttp's 503 for it.
const connReserve = 64

func newListeners(cfg *config, proxies *clientip.Resolver, m *metrics.Metrics) (*listeners, error) {
	l := &listeners{}
	if cfg.TLSCertFile != "" {
		r, err := certs.Load(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, err
		}
		l.certs = r
	}
	lim, err := connlimit.New(connlimit.Options{
		Max: cfg.MaxConns, PerClient: cfg.MaxConnsPerIP, Exempt: proxies.Trusted,
		OnRefused: func(reason string) { m.Shed("connection", reason) },
	})
	if err != nil {
		return nil, err
	}
	l.limiter = lim
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", m.HTTPHandler())
		l.metrics = &http.Server{Addr: cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}
	return l, nil
}

// wrap turns the TCP listener into the one the app serves: TLS (when on)
// inside the limiter, so that the limiter sees, and can evict, every
// connection fasthttp holds.
func (l *listeners) wrap(ln net.Listener) net.Listener {
	if l.certs != nil {
		ln = tls.NewListener(ln, l.certs.Config())
	}
	return l.limiter.Listener(ln)
}

// startMetrics binds the metrics listener; a port that cannot be bound is
// an error at start, not a silent absence.
func (l *listeners) startMetrics(logger *slog.Logger) error {
	if l.metrics == nil {
		return nil
	}
	mln, err := net.Listen("tcp", l.metrics.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on METRICS_ADDR %s: %w", l.metrics.Addr, err)
	}
	go func() {
		if err := l.metrics.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "err", err)
		}
	}()
	logger.Info("metrics listening", "addr", mln.Addr().String())
	return nil
}

func (l *listeners) stop(ctx context.Context) error {
	if l.metrics == nil {
		return nil
	}
	return l.metrics.Shutdown(ctx)
}

// reloadCert reads the TLS certificate again, when TLS is on; a pair
// that fails to load keeps the one in use.
func (l *listeners) reloadCert(logger *slog.Logger) {
	if l.certs == nil {
		return
	}
	if err := l.certs.Reload(); err != nil {
		logger.Error("cannot reload the TLS certificate; the previous one is kept", "err", err)
		return
	}
	logger.Info("reloaded the TLS certificate")
}
