package dashboards

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gofiber/fiber/v2"

	"tally/dashboards/grafana"
	"tally/dashboards/privacy"
	"tally/dashboards/share"
	"tally/dashboards/stats"
	"tally/goals"
	"tally/internal/chmigrate"
	"tally/sites"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// DefaultRetention is how far back queries may reach when Options.Retention
// is not set: 400 days, a year and its comparison period.
const DefaultRetention = 400 * 24 * time.Hour

// MinPasswordLen is the shortest admin password accepted outside dev mode.
const MinPasswordLen = 12

// Options configure the dashboards.
type Options struct {
	// Conn reads the counter tables (the sink's connection); required.
	Conn driver.Conn
	// Cluster is where the sink's tables live (Sink.Cluster; the zero
	// value on one server): the dashboards' own tables are replicated to
	// every host of it.
	Cluster chmigrate.Cluster
	// Sites are the declared sites; required.
	Sites *sites.Registry
	// AdminUser and AdminPassword sign in to every site's dashboard.
	// AdminUser defaults to "admin". AdminPassword is required (at least
	// MinPasswordLen characters) unless Dev is set.
	AdminUser, AdminPassword string
	// Dev allows starting without AdminPassword: a random password is then
	// made and logged at start-up. Never set it in production.
	Dev bool
	// SessionKey signs sign-in cookies (at least 32 bytes). Empty makes a
	// random key at start-up: sign-ins then end when the process restarts,
	// and several replicas need one shared key.
	SessionKey []byte
	// SessionTTL is how long a sign-in lasts (default 12h).
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure. They are also Secure whenever
	// the collector is served over HTTPS (TLS is set, or PublicURL is
	// https://), unless InsecureCookies turns that off (a TLS proxy that
	// talks plain HTTP to a browser-facing dev setup, say).
	SecureCookies, InsecureCookies bool
	// TLS says the collector itself serves HTTPS.
	TLS bool
	// ClientKey tells sign-in clients apart for throttling: a keyed hash,
	// never an address. Default: a hash of the connection's peer address;
	// behind a proxy the collector passes one that resolves the forwarded
	// address.
	ClientKey func(*fiber.Ctx) string
	// Retention is how far back queries may reach (default 400 days);
	// older ranges are refused with 400.
	Retention time.Duration
	// PublicURL is the collector's address as sites see it, used in the
	// embed snippet of empty dashboards (default: the request's host).
	PublicURL string
	// Logger receives errors (default: discarded).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
	// NoiseKey, when set, seeds the noise of shared views instead of the
	// installation's key kept in ClickHouse; tests set it.
	NoiseKey []byte
	// Goals are the sites' goals (the file's and the ones the admin edits
	// here); nil: no goals card.
	Goals *goals.Registry
}

// Dashboards is the mounted dashboard and stats API.
type Dashboards struct {
	opts   Options
	stats  *stats.Querier
	shares *share.Store
	keys   noiseSource
	auth   *auth
	pages  map[string]*template.Template
	assets fs.FS

	prepMu     sync.Mutex
	prepared   bool
	prepFailed time.Time
}

// New validates opts, fills defaults and parses the templates once.
func New(opts Options) (*Dashboards, error) {
	if opts.Conn == nil || opts.Sites == nil {
		return nil, errors.New("dashboards: a ClickHouse connection and the sites are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AdminUser == "" {
		opts.AdminUser = "admin"
	}
	switch {
	case opts.AdminPassword == "" && opts.Dev:
		var b [12]byte
		rand.Read(b[:])
		opts.AdminPassword = base64.RawURLEncoding.EncodeToString(b[:])
		opts.Logger.Warn("dashboards: dev mode without ADMIN_PASSWORD, using a random one",
			"user", opts.AdminUser, "password", opts.AdminPassword)
	case opts.AdminPassword == "":
		return nil, errors.New("dashboards: ADMIN_PASSWORD is required (or set the dev flag for a random one)")
	case len(opts.AdminPassword) < MinPasswordLen && !opts.Dev:
		return nil, fmt.Errorf("dashboards: ADMIN_PASSWORD must be at least %d characters", MinPasswordLen)
	}
	if len(opts.SessionKey) == 0 {
		opts.SessionKey = make([]byte, 32)
		rand.Read(opts.SessionKey)
	} else if len(opts.SessionKey) < 32 {
		return nil, errors.New("dashboards: the session key must be at least 32 bytes")
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.ClientKey == nil {
		opts.ClientKey = peerKey()
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	assets, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		return nil, fmt.Errorf("dashboards: cannot open embedded assets: %w", err)
	}
	var keys noiseSource = privacy.NewKeysOn(opts.Conn, opts.Cluster)
	if len(opts.NoiseKey) > 0 {
		n, err := privacy.NewNoise(opts.NoiseKey)
		if err != nil {
			return nil, err
		}
		keys = fixedNoise{n}
	}
	return &Dashboards{
		opts:   opts,
		stats:  stats.New(opts.Conn),
		shares: share.NewOn(opts.Conn, opts.Cluster, opts.Now),
		keys:   keys,
		auth: newAuth(opts.SessionKey, opts.AdminUser, opts.AdminPassword, opts.SessionTTL,
			secureCookies(opts), opts.Now, newRevocations(opts.Conn, opts.Cluster, opts.Now)),
		pages:  pages,
		assets: assets,
	}, nil
}

// secureCookies: Secure whenever the dashboards are reached over HTTPS,
// unless explicitly turned off.
func secureCookies(o Options) bool {
	if o.InsecureCookies {
		return false
	}
	return o.SecureCookies || o.TLS || strings.HasPrefix(strings.ToLower(o.PublicURL), "https://")
}

// noiseSource gives the noise of shared views: the installation's key
// (privacy.Keys) or a fixed one.
type noiseSource interface {
	Noise(ctx context.Context) (*privacy.Noise, error)
}

type fixedNoise struct{ n *privacy.Noise }

func (f fixedNoise) Noise(context.Context) (*privacy.Noise, error) { return f.n, nil }

// Prepare creates what the dashboards keep in ClickHouse and what Grafana
// reads: the noise key and the Grafana views with each site's k. It needs
// the counter tables; call it once ClickHouse is ready (it is safe to call
// again). Until it has succeeded, the first dashboard request tries it.
func (d *Dashboards) Prepare(ctx context.Context) error {
	d.prepMu.Lock()
	defer d.prepMu.Unlock()
	if d.prepared {
		return nil
	}
	if _, err := d.keys.Noise(ctx); err != nil {
		return err
	}
	var gs []grafana.Site
	for _, s := range d.opts.Sites.All() {
		gs = append(gs, grafana.Site{Domain: s.Domain, K: s.SharedK(), CountHits: privacy.MeasureOf(s) == stats.MeasureHits})
	}
	if err := grafana.PrepareOn(ctx, d.opts.Conn, d.opts.Cluster, gs); errors.Is(err, chmigrate.ErrQueued) {
		// A host is down: it creates the views from the queue when it
		// is back, and nothing here would do it sooner.
		d.opts.Logger.Warn("Grafana views queued for a ClickHouse host that is down", "err", err)
	} else if err != nil {
		return err
	}
	d.prepared = true
	return nil
}

// prepare runs Prepare before the first request served, so Grafana's views
// exist even where nothing called Prepare. A failure is logged and tried
// again at most every prepareRetry, never shown: the dashboards work
// without the views (a shared view then fails on its own when it cannot
// read the noise key).
func (d *Dashboards) prepare(c *fiber.Ctx) error {
	d.prepMu.Lock()
	skip := d.prepared || d.opts.Now().Sub(d.prepFailed) < prepareRetry
	d.prepMu.Unlock()
	if !skip {
		if err := d.Prepare(c.UserContext()); err != nil {
			d.opts.Logger.Error("cannot prepare the dashboards' tables and Grafana views", "err", err)
			d.prepMu.Lock()
			d.prepFailed = d.opts.Now()
			d.prepMu.Unlock()
		}
	}
	return c.Next()
}

// prepareRetry is how long requests wait before trying a failed Prepare
// again.
const prepareRetry = 30 * time.Second

// Register mounts the dashboard, share-link and stats API routes. Every
// route but sign-in, assets and share links (which carry their own secret)
// requires the admin session or, for the API, a site's bearer token.
func (d *Dashboards) Register(r fiber.Router) {
	r.Get("/assets/:file", d.asset)
	r.Use([]string{"/login", "/logout", "/sites", "/share", "/api/stats"}, fiber.Handler(d.prepare))
	r.Get("/login", d.secure, d.loginPage)
	r.Post("/login", d.secure, d.login)
	r.Post("/logout", d.secure, d.admin, d.checkCSRF, d.logout)

	r.Get("/", d.secure, d.admin, d.home)
	site := []fiber.Handler{d.secure, d.admin, d.adminSite}
	r.Get("/sites/:site", append(site, d.sitePage)...)
	r.Get("/sites/:site/csv/:dim", append(site, d.siteCSV)...)
	r.Get("/sites/:site/email", append(site, d.emailPage)...)
	r.Get("/sites/:site/email/:campaign", append(site, d.campaignPage)...)
	r.Get("/sites/:site/email/:campaign/csv/:dim", append(site, d.campaignCSV)...)
	r.Get("/sites/:site/share", append(site, d.sharePage)...)
	r.Post("/sites/:site/share", append(site, d.checkCSRF, d.shareCreate)...)
	r.Post("/sites/:site/share/:id/revoke", append(site, d.checkCSRF, d.shareRevoke)...)
	r.Post("/sites/:site/goals", append(site, d.checkCSRF, d.goalAdd)...)
	r.Post("/sites/:site/goals/delete", append(site, d.checkCSRF, d.goalDelete)...)

	shared := []fiber.Handler{d.secure, d.sharedSite}
	r.Get("/share/:token", append(shared, d.sitePage)...)
	r.Get("/share/:token/csv/:dim", append(shared, d.siteCSV)...)
	r.Get("/share/:token/email", append(shared, d.emailPage)...)
	r.Get("/share/:token/email/:campaign", append(shared, d.campaignPage)...)
	r.Get("/share/:token/email/:campaign/csv/:dim", append(shared, d.campaignCSV)...)

	api := []fiber.Handler{d.apiAuth}
	r.Get("/api/stats/:site/totals", append(api, d.apiTotals)...)
	r.Get("/api/stats/:site/series", append(api, d.apiSeries)...)
	r.Get("/api/stats/:site/breakdown/:dim", append(api, d.apiBreakdown)...)
	r.Get("/api/stats/:site/access-times", append(api, d.apiAccessTimes)...)
	r.Get("/api/stats/:site/goals", append(api, d.apiGoals)...)
	r.Get("/api/stats/:site/funnels", append(api, d.apiFunnels)...)
	r.Get("/api/stats/:site/campaigns", append(api, d.apiCampaigns)...)
	r.Get("/api/stats/:site/campaigns/:campaign", append(api, d.apiCampaign)...)
	r.Get("/api/stats/:site/campaigns/:campaign/breakdown/:dim", append(api, d.apiCampaignBreakdown)...)
}
