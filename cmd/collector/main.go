// Command collector runs the privacy-aware analytics collector, signs
// email-open pixel URLs (collector sign-pixel) and click links (collector
// sign-link), and prints a site's privacy statement (collector statement).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/aggregator/spool"
	"tally/collector"
	"tally/collector/clientip"
	"tally/collector/geo"
	"tally/collector/ingest"
	"tally/collector/journey"
	"tally/collector/metrics"
	"tally/collector/uniques"
	"tally/collector/useragent"
	"tally/dashboards"
	"tally/goals"
	"tally/sites"

	// Site time zones must load in images without zoneinfo.
	_ "time/tzdata"
)

func main() {
	if err := run(os.Args[1:], processEnv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "collector:", err)
		os.Exit(1)
	}
}

// processEnv is os.Getenv, except that SPOOL_DIR set to the empty string
// reads as "-" (memory only), so that it is not taken for unset.
func processEnv(name string) string {
	if v, ok := os.LookupEnv(name); ok && v == "" && name == "SPOOL_DIR" {
		return "-"
	}
	return os.Getenv(name)
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "sign-pixel" {
		return signPixel(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "statement" {
		return printStatement(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "sign-link" {
		return signLink(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(env(getenv).str("LISTEN_ADDR", defaultListenAddr), getenv("TLS_CERT_FILE") != "")
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	fs := newFlagSet()
	fs.SetOutput(stderr)
	cfg, check := bindConfig(fs, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := check(); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.ListenAddr, err)
	}
	return serve(ctx, cfg, ln, logger)
}

// healthcheck asks the local collector's /healthz, for container
// healthchecks in images without curl.
func healthcheck(listen string, tlsOn bool) error {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("cannot read LISTEN_ADDR: %w", err)
	}
	client := http.Client{Timeout: 3 * time.Second}
	scheme := "http"
	if tlsOn {
		// Its own loopback address: the certificate names the public host.
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	resp, err := client.Get(scheme + "://127.0.0.1:" + port + "/healthz")
	if err != nil {
		return fmt.Errorf("collector unreachable: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("collector unhealthy: %s", resp.Status)
	}
	return nil
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("collector", flag.ContinueOnError) }

// app is the running collector's parts. shutdown stops serving and flushes
// the aggregator, then closes what build opened, last opened first.
type app struct {
	sink     *clickhouse.Sink
	agg      *aggregator.Aggregator
	pipeline *ingest.Pipeline
	fiber    *fiber.App
	listen   *listeners
	opened   closers
	layers   layers // reloaded on SIGHUP
	goals    *goals.Registry
	// handover is where the day's uniques are saved at shutdown, to cross
	// a graceful restart (uniques.SaveDay); "" without a spool directory.
	handover string
	day      uniques.Day
}

// closers is what build opened, in order, with a name for errors.
type closers []namedCloser

type namedCloser struct {
	name  string
	close func() error
}

func (cs *closers) push(name string, close func() error) {
	*cs = append(*cs, namedCloser{name, close})
}

// close closes everything, last opened first, and reports every failure.
func (cs closers) close() error {
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].close(); err != nil {
			errs = append(errs, fmt.Errorf("cannot close %s: %w", cs[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// goalsReload is how often the goals edited through another collector
// are read.
const goalsReload = time.Minute

// serve builds every part, serves on ln until ctx ends, then shuts down in
// order: stop accepting HTTP, flush the aggregator, close ClickHouse.
func serve(ctx context.Context, cfg *config, ln net.Listener, logger *slog.Logger) error {
	a, err := build(ctx, cfg, logger)
	if err != nil {
		ln.Close()
		return err
	}
	if err := a.listen.startMetrics(logger); err != nil {
		ln.Close()
		// Not a hit was served: what was restored goes back for the next
		// start.
		return errors.Join(err, a.saveDay(logger), a.opened.close())
	}
	go a.agg.Run()
	go a.goals.Run(ctx, goalsReload, func(err error) { logger.Warn("cannot reload the goals edited in the dashboard", "err", err) })
	defer reloadOnSIGHUP(ctx, logger, a.listen.reloadCert, a.layers.reload)()
	logger.Info("collector listening", "addr", ln.Addr().String(), "tls", cfg.TLSCertFile != "",
		"clickhouse_db", a.sink.Database(), "clickhouse_cluster", cfg.ClickHouseCluster, "geoip", cfg.GeoIPDB != "", "flush_interval", cfg.FlushInterval.String())

	served := make(chan error, 1)
	go func() { served <- a.fiber.Listener(a.listen.wrap(ln)) }()
	select {
	case err = <-served:
		err = fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
		logger.Info("shutting down")
	}
	return errors.Join(err, a.shutdown(logger))
}

// build makes every part. What it opens goes on one list, which an error
// closes on the way out and a successful build hands to the app.
func build(ctx context.Context, cfg *config, logger *slog.Logger) (_ *app, err error) {
	var opened closers
	defer func() {
		if err != nil {
			err = errors.Join(err, opened.close())
		}
	}()
	registry, err := sites.Load(cfg.SitesFile)
	if err != nil {
		return nil, err
	}
	// A shipped example secret is public: URLs signed with it can be forged
	// by anyone who read the README.
	if bad := registry.WithExampleSecrets(); len(bad) > 0 && !cfg.Dev {
		return nil, fmt.Errorf("sites %v use the example email secret from the documentation: set your own (at least %d random characters), or DEV=true for a local trial", bad, sites.MinSecretLen)
	}
	trusted, err := clientip.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("invalid TRUSTED_PROXIES: %w", err)
	}
	resolver := clientip.NewResolver(trusted)
	agents, err := useragent.New(useragent.Options{CacheSize: cfg.UACacheSize})
	if err != nil {
		return nil, fmt.Errorf("cannot build user-agent classifier: %w", err)
	}
	lists, err := buildLayers(cfg.layersConfig)
	if err != nil {
		return nil, err
	}
	// A connection's handshake is bounded by the dial timeout, not by the
	// insert's deadline: no longer than an insert may take.
	sink, err := clickhouse.Open(ctx, clickhouse.Options{
		URL: cfg.ClickHouseURL, Cluster: cfg.ClickHouseCluster, DialTimeout: min(5*time.Second, cfg.InsertTimeout),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot start ClickHouse sink: %w", err)
	}
	opened.push("ClickHouse", sink.Close)
	if cfg.RetentionDrop {
		opened.push("retention", startRetention(sink, cfg.Retention, retentionEvery, retentionRetry, time.Now, logger))
	}
	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sinkErr := sink.Ready(readyCtx)
	if errors.Is(sinkErr, clickhouse.ErrSchema) {
		return nil, sinkErr
	} else if err := sinkErr; err != nil {
		// Not fatal: hits are spooled and the first flush that reaches
		// ClickHouse creates the tables.
		logger.Warn("ClickHouse is not ready; spooling until it is", "err", err)
	}
	var journal aggregator.Journal
	var sp *spool.Spool
	if cfg.SpoolDir != "" {
		if sp, err = spool.Open(cfg.SpoolDir, cfg.SpoolMaxBytes); err != nil {
			return nil, fmt.Errorf("cannot open spool: %w", err)
		}
		journal = sp
		opened.push("spool", sp.Close)
		for _, name := range sp.Quarantined() {
			logger.Error("corrupt spool segment moved aside; its counts are lost", "file", name)
		}
		if n := sp.Len(); n > 0 {
			logger.Info("replaying spool", "segments", n, "bytes", sp.Size())
		}
	}
	locator, err := geo.Open(cfg.GeoIPDB)
	if err != nil {
		return nil, fmt.Errorf("cannot open GeoIP database: %w", err)
	}
	opened.push("GeoIP database", locator.Close)

	visitors := uniques.NewVisitors(nil)
	journeys := journey.New(nil) // memory only: a restart loses the day's journeys
	opens := uniques.NewOpens(cfg.EmailWindow, nil)
	day := uniques.Day{Visitors: visitors, Opens: opens, Clicks: uniques.NewClicks(cfg.EmailWindow, nil)}
	// The sites' goals: the file's, and the ones edited in the dashboard
	// (stored in ClickHouse, read at start and every minute: see serve).
	declared := make(map[string]goals.Config, len(registry.All()))
	for _, s := range registry.All() {
		declared[s.Domain] = s.Conversions
	}
	conversions := goals.NewRegistry(declared, goals.NewStore(sink.Conn(), sink.Cluster(), nil))
	var agg *aggregator.Aggregator
	m := metrics.New(metrics.Gauges{
		PendingRows:  func() float64 { return float64(agg.Pending()) },
		VisitorPairs: func() float64 { return float64(visitors.Len()) },
		VisitorBytes: func() float64 { return float64(visitors.Bytes()) },
		OpenKeys:     func() float64 { return float64(opens.Len()) },
		OpenBytes:    func() float64 { return float64(opens.Bytes()) },
		Journeys:     func() float64 { return float64(journeys.Len()) },
		JourneyBytes: func() float64 { return float64(journeys.Bytes()) },
		JourneysShed: func() float64 { return float64(journeys.Shed()) },
		SpoolBytes: func() float64 {
			if sp == nil {
				return 0
			}
			return float64(sp.Size())
		},
		SpoolSegs: func() float64 {
			if sp == nil {
				return 0
			}
			return float64(sp.Len())
		},
		SpoolFull:   func() float64 { return float64(agg.Stats().JournalFull) },
		SpoolErrors: func() float64 { return float64(agg.Stats().JournalErrors) },
		SpoolCorrupt: func() float64 {
			if sp == nil {
				return 0
			}
			return float64(len(sp.Quarantined())) // at start and since
		},
		AmbiguousHits:  func() float64 { return float64(agg.Stats().AmbiguousHits) },
		OverflowValues: func() float64 { return float64(agg.Stats().OverflowValues) },
		SpoolFault: func() float64 {
			if agg.Degraded() != nil {
				return 1
			}
			return 0
		},
	})
	agg, err = aggregator.New(aggregator.Options{
		Sink: sink, Journal: journal, SyncInterval: cfg.SyncInterval,
		FlushInterval: cfg.FlushInterval, InsertTimeout: cfg.InsertTimeout, Logger: logger, OnFlush: m.Flushed,
		MaxValuesPerHour: cfg.MaxValuesPerHour,
	})
	if err != nil {
		return nil, err
	}
	pipeline, err := ingest.New(ingest.Options{
		Geo: locator, Agents: agents, Visitors: visitors, Opens: opens, Clicks: day.Clicks, Aggregator: agg,
		MaxPendingRows: cfg.MaxPendingRows, MaxVisitorPairs: cfg.MaxVisitorPairs,
		MaxOpenKeys: cfg.MaxOpenKeys, Journeys: journeys, MaxJourneys: cfg.MaxJourneys, RetryAfter: cfg.ShedRetryAfter, Sites: len(registry.All()),
		DataCentres: lists.dataCentres, Spam: lists.spam,
		MaxHeldClicks: cfg.MaxHeldClicks, ClickBurstWindow: cfg.ClickBurst, Goals: conversions,
	})
	if err != nil {
		return nil, err
	}
	dash, err := dashboards.New(dashboards.Options{
		Conn: sink.Conn(), Cluster: sink.Cluster(), Sites: registry, Logger: logger, Goals: conversions,
		AdminUser: cfg.AdminUser, AdminPassword: cfg.AdminPassword, Dev: cfg.Dev,
		SessionKey: []byte(cfg.SessionKey), TLS: cfg.TLSCertFile != "",
		SecureCookies: cfg.SecureCookies != nil && *cfg.SecureCookies, InsecureCookies: cfg.SecureCookies != nil && !*cfg.SecureCookies,
		Retention: cfg.Retention, PublicURL: cfg.PublicURL, ClientKey: collector.ClientKey(resolver),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot start dashboards: %w", err)
	}
	if sinkErr == nil {
		// The noise key and Grafana's views; the first dashboard request
		// tries again when this fails.
		if err := dash.Prepare(readyCtx); err != nil {
			logger.Warn("dashboards not prepared yet", "err", err)
		}
	}
	f, err := collector.New(collector.Options{
		Sites: registry, Pipeline: pipeline, Proxies: resolver, MetricsToken: cfg.MetricsToken, HSTS: cfg.TLSCertFile != "",
		Metrics: m, Logger: logger, Health: func(ctx context.Context) error {
			return errors.Join(agg.Health(), sink.Ping(ctx))
		},
		Degraded:  agg.Degraded,
		Mount:     []func(fiber.Router){dash.Register},
		BodyLimit: cfg.BodyLimit, HeaderLimit: cfg.HeaderLimit,
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout,
		// The limiter holds connections to MaxConns; fasthttp's cap sits
		// above it (see connReserve).
		MaxConns: cfg.MaxConns + connReserve, RateLimit: cfg.RateLimit, RateWindow: cfg.RateWindow,
	})
	if err != nil {
		return nil, err
	}
	listen, err := newListeners(cfg, resolver, m)
	if err != nil {
		return nil, err
	}
	f.Server().ConnState = listen.limiter.ConnState
	// Last, once nothing of the build can fail any more (a failed start
	// would lose what it read: the file is deleted when read): the day's
	// visitors, opens and clicks from a graceful restart today, if any.
	// No hit arrives before serve.
	handover := ""
	if cfg.SpoolDir != "" {
		handover = filepath.Join(cfg.SpoolDir, uniques.HandoverFile)
		switch ok, err := uniques.RestoreDay(handover, day); {
		case ok:
			logger.Info("restored the day's unique visitors, opens and clicks",
				"pairs", visitors.Len(), "opens", opens.Len(), "clicks", day.Clicks.Len())
		case errors.Is(err, uniques.ErrHandoverStale):
			logger.Info("the day's uniques handover is from another day: deleted unread")
		case err != nil:
			logger.Error("cannot restore the day's uniques; counting them from scratch", "err", err)
		}
	}
	return &app{sink: sink, agg: agg, pipeline: pipeline, fiber: f, listen: listen, opened: opened, layers: lists,
		handover: handover, day: day, goals: conversions}, nil
}

// saveDay writes the day's uniques for the next start (no spool
// directory: nothing).
func (a *app) saveDay(logger *slog.Logger) error {
	if a.handover == "" {
		return nil
	}
	if err := uniques.SaveDay(a.handover, a.day); err != nil {
		return err
	}
	logger.Info("saved the day's unique visitors, opens and clicks for the next start",
		"pairs", a.day.Visitors.Len(), "opens", a.day.Opens.Len(), "clicks", a.day.Clicks.Len())
	return nil
}

func (a *app) shutdown(logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if err := a.fiber.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cannot stop HTTP server: %w", err))
	}
	if err := a.listen.stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cannot stop the metrics listener: %w", err))
	}
	a.pipeline.Close() // clicks held for the scanner check, before the last flush
	err := a.agg.Stop(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("cannot flush on shutdown: %w", err))
	} else {
		logger.Info("flushed all counters")
	}
	// No hit arrives any more: the day's uniques may cross the restart,
	// unless hits they remember as seen were lost with their rows (then
	// those visitors must count again after the restart).
	if errors.Is(err, aggregator.ErrRowsLost) {
		logger.Error("the day's uniques are not saved for the next start: counter rows were lost with them")
	} else {
		errs = append(errs, a.saveDay(logger))
	}
	errs = append(errs, a.opened.close())
	return errors.Join(errs...)
}
