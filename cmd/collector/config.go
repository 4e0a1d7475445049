package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"tally/aggregator"
	"tally/collector"
	"tally/collector/connlimit"
	"tally/collector/ingest"
	"tally/collector/uniques"
	"tally/collector/useragent"
	"tally/dashboards"
)

// config is every setting of the serve command. Each is a flag with an
// environment fallback; flags win. The README's table lists them.
type config struct {
	ListenAddr    string
	ClickHouseURL string
	// ClickHouseCluster names the cluster of the servers' remote_servers
	// to run on; "" is one server.
	ClickHouseCluster string
	GeoIPDB           string
	SitesFile         string
	FlushInterval     time.Duration
	TrustedProxies    string
	LogLevel          slog.Level
	EmailWindow       time.Duration
	UACacheSize       int
	SpoolDir          string
	SpoolMaxBytes     int64
	SyncInterval      time.Duration
	InsertTimeout     time.Duration

	// Load and abuse.
	MaxPendingRows   int
	MaxVisitorPairs  int
	MaxOpenKeys      int
	MaxJourneys      int
	MaxValuesPerHour int
	MaxHeldClicks    int
	ClickBurst       time.Duration
	ShedRetryAfter   time.Duration
	BodyLimit        int
	HeaderLimit      int
	ReadTimeout      time.Duration
	WriteTimeout     time.Duration
	IdleTimeout      time.Duration
	MaxConns         int
	MaxConnsPerIP    int
	RateLimit        int
	RateWindow       time.Duration

	// Operators.
	MetricsAddr  string // "" when off
	MetricsToken string
	TLSCertFile  string
	TLSKeyFile   string

	// Dashboards.
	AdminUser     string
	AdminPassword string
	Dev           bool
	SessionKey    string
	// SecureCookies: nil is automatic (Secure whenever served over HTTPS),
	// else what SECURE_COOKIES says.
	SecureCookies *bool
	Retention     time.Duration
	// RetentionDrop: drop the counter tables' months older than Retention.
	RetentionDrop bool
	PublicURL     string

	// Bot filtering lists: layers.go.
	layersConfig
}

// Defaults that belong to the command itself. Every other default is the
// exported constant of the package that applies it, so that a flag and
// the package it configures cannot disagree.
const (
	defaultListenAddr = ":8080"
	defaultSitesFile  = "sites.json"
	defaultSpoolMB    = 1024 // the spool has no default bound of its own
	// defaultClickHouseURL has no password: one taken from the
	// environment is never printed.
	defaultClickHouseURL = "clickhouse://127.0.0.1:9000/analytics"
	// defaultMetricsAddr keeps the collector's own counters on this
	// machine unless the operator opens them up.
	defaultMetricsAddr = "127.0.0.1:9464"
)

// env reads an environment fallback for a flag.
type env func(string) string

func (e env) str(name, def string) string {
	if v := e(name); v != "" {
		return v
	}
	return def
}

// bindConfig defines the serve flags on fs with defaults from the
// environment. Invalid environment values are reported by parse.
func bindConfig(fs *flag.FlagSet, getenv env) (*config, func() error) {
	c := &config{}
	var errs []string
	dur := func(p *time.Duration, name string, def time.Duration, help string) {
		v, err := time.ParseDuration(getenv.str(name, def.String()))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
		}
		fs.DurationVar(p, flagName(name), v, help+" (env "+name+")")
	}
	str := func(p *string, name, def, help string) {
		fs.StringVar(p, flagName(name), getenv.str(name, def), help+" (env "+name+")")
	}
	integer := func(p *int, name string, def int, help string) {
		v, err := strconv.Atoi(getenv.str(name, strconv.Itoa(def)))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
		}
		fs.IntVar(p, flagName(name), v, help+" (env "+name+")")
	}

	// secret binds a flag whose value must never be printed: -h shows
	// neither an environment value nor a default, only whether it is set.
	secret := func(p *string, name, help string) {
		*p = getenv(name)
		fs.Func(flagName(name), help+" (env "+name+"; never shown)", func(v string) error { *p = v; return nil })
	}
	boolean := func(p *bool, name string, help string) {
		v := false
		if raw := getenv(name); raw != "" {
			var err error
			if v, err = strconv.ParseBool(raw); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			}
		}
		fs.BoolVar(p, flagName(name), v, help+" (env "+name+")")
	}

	str(&c.ListenAddr, "LISTEN_ADDR", defaultListenAddr, "address to listen on")
	c.ClickHouseURL = getenv.str("CLICKHOUSE_URL", defaultClickHouseURL)
	fs.Func(flagName("CLICKHOUSE_URL"), "ClickHouse native URL; the path names the database (env CLICKHOUSE_URL; a password in it is never shown) (default "+defaultClickHouseURL+")",
		func(v string) error { c.ClickHouseURL = v; return nil })
	str(&c.ClickHouseCluster, "CLICKHOUSE_CLUSTER", "", "ClickHouse cluster (remote_servers name) to run on: replicated tables on every shard, Distributed tables for reads, writes to one shard per chunk; empty: one server")
	str(&c.GeoIPDB, "GEOIP_DB", "", "GeoIP2/GeoLite2 City or Country .mmdb; empty: regions unknown")
	str(&c.SitesFile, "SITES_FILE", defaultSitesFile, "sites file (JSON)")
	dur(&c.FlushInterval, "FLUSH_INTERVAL", aggregator.DefaultFlushInterval, "time between writes to ClickHouse")
	str(&c.TrustedProxies, "TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For / X-Real-IP are believed")
	level := getenv.str("LOG_LEVEL", "info")
	fs.Func(flagName("LOG_LEVEL"), "log level: debug, info, warn, error (env LOG_LEVEL) (default info)", func(s string) error {
		return c.LogLevel.UnmarshalText([]byte(s))
	})
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		errs = append(errs, fmt.Sprintf("LOG_LEVEL: %v", err))
	}
	dur(&c.EmailWindow, "EMAIL_WINDOW", uniques.DefaultOpenWindow, "how long a recipient's open is remembered to count unique opens")
	integer(&c.UACacheSize, "UA_CACHE_SIZE", useragent.DefaultCacheSize, "user agents whose classification is cached")
	str(&c.SpoolDir, "SPOOL_DIR", "data/spool", "directory of the on-disk spool of counter deltas; empty or -: memory only (a crash loses everything unflushed)")
	var spoolMB int
	integer(&spoolMB, "SPOOL_MAX_MB", defaultSpoolMB, "size bound of the spool in MiB; when full, deltas stay in memory and tally_spool_full_total counts it")
	dur(&c.SyncInterval, "SYNC_INTERVAL", aggregator.DefaultSyncInterval, "time between spool writes: the most a crash (kill -9) can lose")
	dur(&c.InsertTimeout, "INSERT_TIMEOUT", aggregator.DefaultInsertTimeout, "bound on one insert into ClickHouse (a chunk of at most FLUSH_ROWS rows)")

	integer(&c.MaxPendingRows, "MAX_PENDING_ROWS", ingest.DefaultMaxPendingRows, "counter rows held in memory before hits are shed with 503; negative: no bound")
	integer(&c.MaxVisitorPairs, "MAX_VISITOR_PAIRS", ingest.DefaultMaxVisitorPairs, "the day's (visitor, value) pairs, 10-15 bytes each, shared equally by the sites: a site's hits with uniques are shed once its share is full; negative: no bound")
	integer(&c.MaxOpenKeys, "MAX_OPEN_KEYS", ingest.DefaultMaxOpenKeys, "remembered email opens, shared equally by the sites: a site's de-duplicated opens are shed once its share is full; negative: no bound")
	integer(&c.MaxJourneys, "MAX_JOURNEYS", ingest.DefaultMaxJourneys, "the day's visitors with attribution and funnel state, 52-84 bytes each, shared equally by the sites: a site's new visitors past its share get none (their conversions count as (unknown)); negative: no bound")
	integer(&c.MaxValuesPerHour, "MAX_VALUES_PER_HOUR", aggregator.DefaultMaxValuesPerHour, "distinct values of one free-text dimension (path, source, UTM tags, event) of one site counted per hour; further new values count as (other); negative: no cap")
	integer(&c.MaxHeldClicks, "MAX_HELD_CLICKS", ingest.DefaultMaxHeldClicks, "email clicks held for the scanner check before clicks are shed (they still land); negative: no bound")
	dur(&c.ClickBurst, "CLICK_BURST_WINDOW", ingest.DefaultClickBurstWindow, "how long a human-looking email click is held: three links of one message followed within it for one recipient are a scanner's")
	dur(&c.ShedRetryAfter, "SHED_RETRY_AFTER", ingest.DefaultRetryAfter, "Retry-After of shed hits (visitor pairs: until midnight UTC)")
	integer(&c.BodyLimit, "BODY_LIMIT", collector.DefaultBodyLimit, "largest request body in bytes (413 past it)")
	integer(&c.HeaderLimit, "HEADER_LIMIT", collector.DefaultHeaderLimit, "largest request line and headers in bytes (431 past it)")
	dur(&c.ReadTimeout, "READ_TIMEOUT", collector.DefaultReadTimeout, "time to read one request; cuts off slow clients")
	dur(&c.WriteTimeout, "WRITE_TIMEOUT", collector.DefaultWriteTimeout, "time to write one response")
	dur(&c.IdleTimeout, "IDLE_TIMEOUT", collector.DefaultIdleTimeout, "keep-alive wait for the next request")
	integer(&c.MaxConns, "MAX_CONNS", collector.DefaultMaxConns, "concurrent connections; at the cap the longest-idle keep-alive connection is closed for a new one, and only when every connection is busy do new ones get 503")
	integer(&c.MaxConnsPerIP, "MAX_CONNS_PER_CLIENT", connlimit.DefaultPerClient, "concurrent connections of one client (an IPv4 address or IPv6 /64, told apart by a keyed hash; trusted proxies exempt); negative: no cap")
	integer(&c.RateLimit, "RATE_LIMIT", collector.DefaultRateLimit, "requests per client per window on the event API and pixels (keyed by an hourly-rekeyed hash, never the address); negative: off")
	dur(&c.RateWindow, "RATE_WINDOW", collector.DefaultRateWindow, "rate-limit window")

	str(&c.AdminUser, "ADMIN_USER", "admin", "dashboard user name")
	secret(&c.AdminPassword, "ADMIN_PASSWORD", "dashboard password, at least 12 characters; required unless DEV")
	boolean(&c.Dev, "DEV", "development mode: without ADMIN_PASSWORD a random one is made and logged; never in production")
	secret(&c.SessionKey, "SESSION_KEY", "at least 32 bytes signing sign-in cookies; share it between replicas; empty: random at start")
	if raw := getenv("SECURE_COOKIES"); raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			errs = append(errs, fmt.Sprintf("SECURE_COOKIES: %v", err))
		}
		c.SecureCookies = &v
	}
	fs.Func(flagName("SECURE_COOKIES"), "mark cookies Secure: true or false; unset: Secure whenever served over HTTPS (TLS on, or PUBLIC_URL is https) (env SECURE_COOKIES)", func(v string) error {
		b, err := strconv.ParseBool(v)
		c.SecureCookies = &b
		return err
	})
	dur(&c.Retention, "RETENTION", dashboards.DefaultRetention, "how far back dashboard queries may reach (400 days); with RETENTION_DROP, how long counters are kept")
	boolean(&c.RetentionDrop, "RETENTION_DROP", "delete the counters' whole months older than RETENTION, at start and daily (ALTER TABLE ... DROP PARTITION); off: kept until deleted by hand")
	str(&c.PublicURL, "PUBLIC_URL", "", "the collector's public origin, shown in embed snippets; empty: the request's host")

	str(&c.MetricsAddr, "METRICS_ADDR", defaultMetricsAddr, "address of the Prometheus /metrics listener, loopback by default; - : none")
	secret(&c.MetricsToken, "METRICS_TOKEN", "bearer token that also serves /metrics on the main listener; empty: not there")
	str(&c.TLSCertFile, "TLS_CERT_FILE", "", "PEM certificate (chain) to serve HTTPS with TLS_KEY_FILE; reloaded on SIGHUP; empty: plain HTTP")
	str(&c.TLSKeyFile, "TLS_KEY_FILE", "", "PEM private key of TLS_CERT_FILE")
	errs = append(errs, bindLayers(fs, getenv, &c.layersConfig)...)

	check := func() error {
		if len(errs) > 0 {
			return fmt.Errorf("invalid environment: %s", strings.Join(errs, "; "))
		}
		if c.FlushInterval <= 0 || c.SyncInterval <= 0 || c.InsertTimeout <= 0 {
			return fmt.Errorf("flush and sync intervals and the insert timeout must be positive")
		}
		if c.SpoolDir == "-" {
			c.SpoolDir = ""
		}
		if spoolMB <= 0 {
			return fmt.Errorf("spool size bound must be positive")
		}
		c.SpoolMaxBytes = int64(spoolMB) << 20
		if c.MetricsAddr == "-" {
			c.MetricsAddr = ""
		}
		if c.RetentionDrop && c.Retention <= 0 {
			return fmt.Errorf("RETENTION_DROP needs a positive RETENTION")
		}
		if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
			return fmt.Errorf("TLS_CERT_FILE and TLS_KEY_FILE go together")
		}
		return nil
	}
	return c, check
}

// flagName turns LISTEN_ADDR into listen-addr.
func flagName(env string) string { return strings.ReplaceAll(strings.ToLower(env), "_", "-") }
