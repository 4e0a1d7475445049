package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/utils"

	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/collector/metrics"
	"tally/pixel"
	"tally/sites"
)

//go:embed static/script.js
var trackerScript []byte

// Options wire the server.
type Options struct {
	Sites    *sites.Registry
	Pipeline *ingest.Pipeline
	Proxies  *clientip.Resolver
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	// Health reports whether the server can do its job (ClickHouse
	// reachable); nil means always healthy.
	Health func(context.Context) error
	// Degraded, if set, reports a fault the server works around (the
	// spool cannot be written): /healthz stays 200 and says so.
	Degraded func() error
	// MetricsToken, if set, serves /metrics on this listener to requests
	// bearing it. Empty: /metrics is not on this listener (the command
	// serves it on its own, loopback, address): counters of the
	// collector's traffic are for operators, not for every visitor.
	MetricsToken string
	// HSTS adds Strict-Transport-Security to every answer: set it when
	// the collector serves TLS itself.
	HSTS bool
	// Mount adds more routes (the dashboards) after the collector's own.
	Mount []func(fiber.Router)

	// Request limits. Zero means the default; the defaults fit a collector
	// whose requests are a few hundred bytes.

	// BodyLimit bounds request bodies (default 16 KiB: an event is ~300
	// bytes); larger bodies get 413.
	BodyLimit int
	// HeaderLimit bounds the request line and headers (default 8 KiB);
	// larger requests get 431.
	HeaderLimit int
	// ReadTimeout bounds reading one request, headers and body, so a slow
	// client cannot hold a connection open by trickling bytes (default 5s).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one response (default 10s: dashboard
	// pages and CSV downloads share the server).
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection (default 60s).
	IdleTimeout time.Duration
	// MaxConns bounds concurrent connections (default 10,000); past it new
	// connections get 503 at once. Each costs about HeaderLimit + 4 KiB.
	MaxConns int

	// RateLimit is the number of requests one client may make to the
	// counting routes (/api/event and both pixels) per RateWindow (default
	// 120; negative: no limit). Over it the API answers 429 with
	// Retry-After and pixels answer the image without counting. Clients
	// are told apart by a keyed hash of their address whose key changes
	// every hour; the address itself is never kept.
	RateLimit int
	// RateWindow is the rate limit's window (default 10s).
	RateWindow time.Duration
	// RateStorage keeps the rate limit's counts; Fiber's in-memory store
	// when nil, which is what the privacy promise assumes (tests pass one
	// to look at what is kept: only keyed hashes).
	RateStorage fiber.Storage
}

// Defaults of Options.
const (
	DefaultBodyLimit    = 16 << 10
	DefaultHeaderLimit  = 8 << 10
	DefaultReadTimeout  = 5 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	DefaultMaxConns     = 10_000
	DefaultRateLimit    = 120
	DefaultRateWindow   = 10 * time.Second
)

func (o *Options) fill() error {
	if o.BodyLimit < 0 || o.HeaderLimit < 0 || o.ReadTimeout < 0 || o.WriteTimeout < 0 ||
		o.IdleTimeout < 0 || o.MaxConns < 0 || o.RateWindow < 0 {
		return errors.New("collector: negative request limit")
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.BodyLimit, DefaultBodyLimit)
	def(&o.HeaderLimit, DefaultHeaderLimit)
	dur(&o.ReadTimeout, DefaultReadTimeout)
	dur(&o.WriteTimeout, DefaultWriteTimeout)
	dur(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.MaxConns, DefaultMaxConns)
	def(&o.RateLimit, DefaultRateLimit)
	dur(&o.RateWindow, DefaultRateWindow)
	return nil
}

// New builds the Fiber app with every route.
func New(opts Options) (*fiber.App, error) {
	if opts.Sites == nil || opts.Pipeline == nil || opts.Proxies == nil || opts.Metrics == nil {
		return nil, errors.New("collector: sites, pipeline, proxies and metrics are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := opts.fill(); err != nil {
		return nil, err
	}
	s := &server{opts: opts, gif: pixel.GIF()}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // a valid level: no error
	if _, err := zw.Write(trackerScript); err != nil {
		return nil, fmt.Errorf("cannot compress the tracker: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("cannot compress the tracker: %w", err)
	}
	s.jsGz = gz.Bytes()
	app := fiber.New(fiber.Config{
		AppName:               "tally",
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		ReadBufferSize:        opts.HeaderLimit, // request line + headers; larger gets 431
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		IdleTimeout:           opts.IdleTimeout,
		Concurrency:           opts.MaxConns,
		// No per-address connection cap (fasthttp's MaxConnsPerIP): it
		// counts by IPv4 address only, lumping every IPv6 client together,
		// and behind a proxy it would cap the proxy. The rate limit below
		// works on the resolved client address instead.
		Network:      fiber.NetworkTCP, // IPv4 and IPv6
		ErrorHandler: s.errorHandler,
	})
	app.Use(s.recoverer, s.accessLog)
	if opts.HSTS {
		app.Use(func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
			return c.Next()
		})
	}

	limit := func(c *fiber.Ctx) error { return c.Next() }
	if opts.RateLimit > 0 {
		limit = s.rateLimit(opts.RateLimit, opts.RateWindow)
	}
	app.Get(webPixelRoute, limit, s.webPixel)
	app.Get(emailPixelRoute, limit, s.emailPixel)
	app.Get(emailClickRoute, limit, s.emailClick) // and HEAD, which scanners send

	// The tracker posts from every site's origin; answers carry no data.
	api := cors.New(cors.Config{AllowOrigins: "*", AllowMethods: "POST", AllowHeaders: "Content-Type"})
	app.Post(eventRoute, api, limit, s.event)
	app.Options(eventRoute, api)
	app.Post(sentRoute, limit, s.campaignSent)

	app.Get("/js/script.js", s.script)
	app.Get("/healthz", s.healthz)
	if opts.MetricsToken != "" {
		app.Get("/metrics", s.metricsAuth, opts.Metrics.Handler())
	}
	for _, m := range opts.Mount {
		m(app)
	}
	return app, nil
}

type server struct {
	opts   Options
	events eventParser
	keys   signingKeys // email pixels' signing keys
	gif    []byte      // the pixel image (pixel.GIF), copied once
	jsGz   []byte      // the tracker gzipped, once
}

// errorHandler answers Fiber's own errors (404, 405, 413, 431...) as JSON
// with the status text, and anything else as a bare 500 whose details stay
// out of the response. Fiber's messages can quote the request (a path, or
// the bytes of a malformed request with its headers), so they are not used.
func (s *server) errorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return c.Status(fe.Code).JSON(errorBody{Error: utils.StatusMessage(fe.Code)})
	}
	// The route pattern, never the URL: a URL may carry a recipient token.
	s.opts.Logger.Error("request failed", "route", c.Route().Path, "err", err)
	return c.Status(fiber.StatusInternalServerError).JSON(errorBody{Error: "internal error"})
}

type errorBody struct {
	Error string `json:"error"`
}

// recoverer turns a panic into a 500. It logs only the route: a panic value
// or stack could hold request data, such as an address.
func (s *server) recoverer(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.opts.Logger.Error("handler panicked", "route", c.Route().Path)
			if k, ok := kindOf(c); ok && k.pixel() {
				err = s.sendPixel(c) // a pixel is always an image
				return
			} else if ok && k == kindEmailClick {
				err = s.followSafe(c) // a link always leads somewhere safe
				return
			}
			err = c.Status(fiber.StatusInternalServerError).JSON(errorBody{Error: "internal error"})
		}
	}()
	return c.Next()
}

// accessLog logs method, route pattern, status and latency: never the client
// address, user agent, URL or query string.
func (s *server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if s.opts.Logger.Enabled(c.UserContext(), slog.LevelDebug) {
		status := c.Response().StatusCode()
		var fe *fiber.Error
		if errors.As(err, &fe) {
			status = fe.Code
		}
		s.opts.Logger.Debug("request", "method", c.Method(), "route", c.Route().Path,
			"status", status, "took", time.Since(start))
	}
	return err
}

// script serves the tracker, gzipped to the browsers that accept it (all
// of them): its comments stay in the source, which is served as it is,
// and cost little once compressed (sizes: README, tools/trackersize).
func (s *server) script(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	c.Vary(fiber.HeaderAcceptEncoding)
	if c.Context().Request.Header.HasAcceptEncoding("gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(s.jsGz)
	}
	return c.Send(trackerScript)
}

func (s *server) healthz(c *fiber.Ctx) error {
	if s.opts.Health != nil {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		if err := s.opts.Health(ctx); err != nil {
			return c.Status(fiber.StatusServiceUnavailable).JSON(errorBody{Error: "clickhouse unreachable"})
		}
	}
	if s.opts.Degraded != nil && s.opts.Degraded() != nil {
		return c.SendString("degraded: the spool cannot be written; counters go to ClickHouse from memory")
	}
	return c.SendString("ok")
}

// metricsAuth lets through requests bearing the metrics token, compared in
// constant time.
func (s *server) metricsAuth(c *fiber.Ctx) error {
	token, _ := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.MetricsToken)) != 1 {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="tally metrics"`)
		return c.Status(fiber.StatusUnauthorized).JSON(errorBody{Error: "the metrics token is required"})
	}
	return c.Next()
}
