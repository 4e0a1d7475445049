// Package collector is the HTTP face of the collector: the Fiber app, its
// routes and the thin handlers of the event and campaign APIs. Every handler
// parses, copies what it keeps out of the reused Fiber context, calls one
// pipeline function and answers.
package collector

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"

	"tally/collector/clientip"
	"tally/collector/ingest"
	"tally/collector/metrics"
	"tally/collector/sites"
	"tally/pixel"
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
	// Mount adds more routes (the dashboards) after the collector's own.
	Mount []func(fiber.Router)
	// BodyLimit bounds request bodies (default 16 KiB: an event is ~300 bytes).
	BodyLimit int
}

// New builds the Fiber app with every route.
func New(opts Options) (*fiber.App, error) {
	if opts.Sites == nil || opts.Pipeline == nil || opts.Proxies == nil || opts.Metrics == nil {
		return nil, errors.New("collector: sites, pipeline, proxies and metrics are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 16 << 10
	}
	s := &server{opts: opts}
	app := fiber.New(fiber.Config{
		AppName:               "tally",
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		ReadBufferSize:        8 << 10, // request line + headers; larger gets 431
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           60 * time.Second,
		Network:               fiber.NetworkTCP, // IPv4 and IPv6
		ErrorHandler:          s.errorHandler,
	})
	app.Use(s.recoverer, s.accessLog)

	px := &pixel.Handlers{Sites: opts.Sites, Pipeline: opts.Pipeline, Proxies: opts.Proxies, Record: s.recordPixel}
	app.Get("/p.gif", px.Web)
	app.Get("/e/:site/:file", px.Email)

	// The tracker posts from every site's origin; answers carry no data.
	api := cors.New(cors.Config{AllowOrigins: "*", AllowMethods: "POST", AllowHeaders: "Content-Type"})
	app.Post("/api/event", api, s.event)
	app.Options("/api/event", api)
	app.Post("/api/campaigns/:id/sent", s.campaignSent)

	app.Get("/js/script.js", s.script)
	app.Get("/healthz", s.healthz)
	app.Get("/metrics", opts.Metrics.Handler())
	for _, m := range opts.Mount {
		m(app)
	}
	return app, nil
}

type server struct {
	opts Options
}

// errorHandler answers Fiber's own errors (404, 405, 413...) as JSON, and
// anything else as a bare 500 whose details stay out of the response.
func (s *server) errorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return c.Status(fe.Code).JSON(errorBody{Error: fe.Message})
	}
	// The route pattern, never the URL: a URL may carry a recipient token.
	s.opts.Logger.Error("request failed", "route", c.Route().Path, "err", err)
	return c.Status(fiber.StatusInternalServerError).JSON(errorBody{Error: "internal error"})
}

type errorBody struct {
	Error string `json:"error"`
}

func badRequest(c *fiber.Ctx, msg string) error {
	return c.Status(fiber.StatusBadRequest).JSON(errorBody{Error: msg})
}

// recoverer turns a panic into a 500. It logs only the route: a panic value
// or stack could hold request data, such as an address.
func (s *server) recoverer(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.opts.Logger.Error("handler panicked", "route", c.Route().Path)
			if c.Route().Path == "/p.gif" || c.Route().Path == "/e/:site/:file" {
				err = pixel.Send(c) // a pixel is always an image
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

func (s *server) script(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
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
	return c.SendString("ok")
}
