// Package clickhouse is the aggregator's ClickHouse sink: it creates the
// database and tables (embedded, versioned migrations) and writes counter
// batches with explicit column lists, in SQL that runs both on current
// ClickHouse and on the 18.16 server Debian ships, on one server or on a
// cluster (cluster.go).
package clickhouse

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/aggregator"
	"tally/counter"
	"tally/internal/chmigrate"
)

// Options configure the sink.
type Options struct {
	// URL is a clickhouse:// DSN whose path names the database, e.g.
	// clickhouse://127.0.0.1:9000/analytics.
	URL string
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration
	// Cluster names the ClickHouse cluster (the servers' remote_servers)
	// to run on; empty: one server. See cluster.go.
	Cluster string
	// DialContext, if set, makes every connection (the tests cut them).
	DialContext func(ctx context.Context, addr string) (net.Conn, error)
}

// Sink writes aggregator batches to ClickHouse and serves queries.
type Sink struct {
	conn     driver.Conn
	admin    *ch.Options
	database string
	// cluster is the zero Cluster on one server.
	cluster chmigrate.Cluster
	// shards are the connections to each shard's replicas, made by Ready
	// in cluster mode: writes go to one shard's local tables.
	shards []driver.Conn

	mu    sync.Mutex
	ready bool
	// dedup: the server deduplicates inserts by insert_deduplication_token
	// (ClickHouse 22.2 and later, with non_replicated_deduplication_window
	// set on the tables at start-up).
	dedup bool
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// dedupSince is the first version with insert_deduplication_token.
var dedupSince = [2]uint64{22, 2}

// dedupWindow is how many recent inserts each table remembers for
// deduplication: far more than the retries of one outage.
const dedupWindow = 10000

// Open checks the URL and prepares the connection. It does not need the
// server: Ready (called by Open's caller, or by the first Write) creates the
// database and tables, so the collector can start, and spool, while
// ClickHouse is down.
func Open(ctx context.Context, opts Options) (*Sink, error) {
	chOpts, err := ch.ParseDSN(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("cannot parse ClickHouse URL: %w", err)
	}
	if chOpts.Auth.Database == "" {
		chOpts.Auth.Database = "analytics"
	}
	if !identRe.MatchString(chOpts.Auth.Database) {
		return nil, fmt.Errorf("database name %q is not a plain identifier", chOpts.Auth.Database)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	chOpts.DialTimeout = opts.DialTimeout
	if opts.DialContext != nil {
		chOpts.DialContext = opts.DialContext
	}
	cluster := chmigrate.Cluster{Name: opts.Cluster, Database: chOpts.Auth.Database, Sharded: counterTables, DedupWindow: dedupWindow}
	if err := cluster.Validate(); err != nil {
		return nil, err
	}
	// The database may not exist yet, and a connection naming it would be
	// refused: it is created through the default database.
	admin := *chOpts
	admin.Auth.Database = "default"
	conn, err := ch.Open(chOpts)
	if err != nil {
		return nil, fmt.Errorf("cannot open ClickHouse connection: %w", err)
	}
	return &Sink{conn: conn, admin: &admin, database: chOpts.Auth.Database, cluster: cluster}, nil
}

// Ready creates the database and tables and applies migrations, once. It
// is safe to call again after a failure.
func (s *Sink) Ready(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	if err := createDatabase(ctx, s.admin, s.database, s.cluster); err != nil {
		return err
	}
	if err := s.checkLayout(ctx); err != nil {
		return err
	}
	all, err := chmigrate.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	if err := s.cluster.Apply(ctx, s.conn, "schema_migrations", all); err != nil {
		return err
	}
	// schema_migrations says what was applied, not what the tables are:
	// a database made by another version, or changed by hand, must fail
	// here with the difference named, not at every flush.
	if err := chmigrate.CheckColumns(ctx, s.conn, s.database, s.cluster.Columns(Columns)); err != nil {
		return err
	}
	if s.cluster.On() {
		// Replicated tables drop a block they stored before: retries are
		// safe (see cluster.go), on every version.
		if err := s.openShards(ctx); err != nil {
			return err
		}
		s.dedup, s.ready = true, true
		return nil
	}
	dedup, err := s.enableDedup(ctx)
	if err != nil {
		return err
	}
	s.dedup, s.ready = dedup, true
	return nil
}

// enableDedup turns on insert deduplication for the counter tables where the
// server supports insert_deduplication_token. It runs at every start so an
// upgraded server gets it without a migration.
func (s *Sink) enableDedup(ctx context.Context) (bool, error) {
	v, err := s.conn.ServerVersion()
	if err != nil {
		return false, fmt.Errorf("cannot read ClickHouse version: %w", err)
	}
	if v.Version.Major < dedupSince[0] || v.Version.Major == dedupSince[0] && v.Version.Minor < dedupSince[1] {
		return false, nil
	}
	for _, q := range dedupStatements() {
		if err := s.conn.Exec(ctx, q); err != nil {
			return false, fmt.Errorf("cannot enable deduplication: %w", err)
		}
	}
	return true, nil
}

// counterTables are the tables Write inserts into: sharded in a cluster.
var counterTables = []string{"web_counters", "email_counters"}

// dedupStatements turn on insert deduplication for the counter tables.
func dedupStatements() []string {
	var out []string
	for _, t := range counterTables {
		out = append(out, fmt.Sprintf("ALTER TABLE %s MODIFY SETTING non_replicated_deduplication_window = %d", t, dedupWindow))
	}
	return out
}

// Columns are the columns each table must have: what Write inserts, in
// the types it inserts them as.
var Columns = map[string][]chmigrate.Column{
	"web_counters": {
		{Name: "site", Type: "String"}, {Name: "hour", Type: "DateTime('UTC')"}, {Name: "dimension", Type: "String"},
		{Name: "value", Type: "String"}, {Name: "hits", Type: "Int64"}, {Name: "pageviews", Type: "Int64"},
		{Name: "visitors", Type: "Int64"}, {Name: "visits", Type: "Int64"}, {Name: "tracked_visits", Type: "Int64"},
		{Name: "bounces", Type: "Int64"}, {Name: "exits", Type: "Int64"}, {Name: "engaged_ms", Type: "Int64"},
		{Name: "engaged_views", Type: "Int64"}, {Name: "scroll_sum", Type: "Int64"}, {Name: "scroll_views", Type: "Int64"},
		{Name: "revenue", Type: "Int64"},
	},
	"email_counters": {
		{Name: "site", Type: "String"}, {Name: "campaign", Type: "String"}, {Name: "hour", Type: "DateTime('UTC')"},
		{Name: "dimension", Type: "String"}, {Name: "value", Type: "String"}, {Name: "sent", Type: "Int64"},
		{Name: "opens", Type: "Int64"}, {Name: "unique_opens", Type: "Int64"}, {Name: "machine_opens", Type: "Int64"},
		{Name: "clicks", Type: "Int64"}, {Name: "unique_clicks", Type: "Int64"}, {Name: "machine_clicks", Type: "Int64"},
		{Name: "implied_opens", Type: "Int64"},
	},
	"schema_migrations": {{Name: "version", Type: "UInt32"}, {Name: "name", Type: "String"}, {Name: "applied_at", Type: "DateTime('UTC')"}},
}

// ErrSchema is wrapped by Ready when a table's columns are not what Write
// inserts: a definite error, which no retry mends.
var ErrSchema = chmigrate.ErrSchema

// Deduplicates makes the sink ready and reports whether the server
// deduplicates a write whose token it stored before
// (aggregator.Deduplicator).
func (s *Sink) Deduplicates(ctx context.Context) (bool, error) {
	if err := s.Ready(ctx); err != nil {
		return false, err
	}
	return s.Dedup(), nil
}

// Dedup reports whether retries are deduplicated by the server (known after
// Ready).
func (s *Sink) Dedup() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.dedup }

func createDatabase(ctx context.Context, opts *ch.Options, name string, c chmigrate.Cluster) error {
	conn, err := ch.Open(opts)
	if err != nil {
		return fmt.Errorf("cannot open ClickHouse connection: %w", err)
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("cannot reach ClickHouse: %w", err)
	}
	// name is a checked identifier; Exec with bound arguments hangs on 18.16.
	if err := chmigrate.Exec(ctx, conn, "CREATE DATABASE IF NOT EXISTS "+name+c.OnCluster()); err != nil {
		return fmt.Errorf("cannot create database %s: %w", name, err)
	}
	return nil
}

// Conn is the connection, for the dashboards' read queries.
func (s *Sink) Conn() driver.Conn { return s.conn }

// Database is the database name.
func (s *Sink) Database() string { return s.database }

// Ping checks the server is reachable.
func (s *Sink) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

// Cluster is where the sink's tables live (the zero value on one server),
// for the dashboards, whose tables go to the same place.
func (s *Sink) Cluster() chmigrate.Cluster {
	return chmigrate.Cluster{Name: s.cluster.Name, Database: s.cluster.Database}
}

// Close closes the connections.
func (s *Sink) Close() error {
	s.mu.Lock()
	shards := s.shards
	s.mu.Unlock()
	errs := []error{s.conn.Close()}
	for _, c := range shards {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Write stores a batch, web rows then email rows, each in one insert. The
// aggregator sends one table per call, so a failure never leaves it unsure
// which table was stored. token deduplicates retries where the server can
// (every write carries one: on such a server, two token-less inserts of
// equal rows would be taken for one); where it cannot, a failure after the
// data may have reached the server wraps aggregator.ErrAmbiguous.
func (s *Sink) Write(ctx context.Context, b *aggregator.Batch, token string) error {
	if err := s.Ready(ctx); err != nil {
		return err
	}
	conn, marker := s.conn, ""
	if s.cluster.On() {
		conn, marker = s.shardFor(token), token
	} else if s.Dedup() && token != "" {
		ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"insert_deduplication_token": token}))
	}
	if len(b.Web) > 0 {
		if err := s.insert(ctx, conn, "INSERT INTO "+s.cluster.Local("web_counters")+" (site, hour, dimension, value, hits, pageviews, visitors, "+
			"visits, tracked_visits, bounces, exits, engaged_ms, engaged_views, scroll_sum, scroll_views, revenue)",
			webColumns(b.Web, marker)); err != nil {
			return fmt.Errorf("cannot insert %d web counters: %w", len(b.Web), err)
		}
	}
	if len(b.Email) > 0 {
		if err := s.insert(ctx, conn, "INSERT INTO "+s.cluster.Local("email_counters")+" (site, campaign, hour, dimension, value, sent, opens, unique_opens, machine_opens, clicks, unique_clicks, machine_clicks, implied_opens)",
			emailColumns(b.Email, marker)); err != nil {
			return fmt.Errorf("cannot insert %d email counters: %w", len(b.Email), err)
		}
	}
	return nil
}

// insert sends one block, column by column: appending whole typed slices
// costs a fraction of appending row by row, where every value goes through
// an interface and a type switch. The collector's flush shares one core with
// requests, so its CPU time is their latency.
//
// Only a failed Send can be ambiguous (see sendError): before it, nothing
// was sent.
func (s *Sink) insert(ctx context.Context, conn driver.Conn, query string, columns []any) error {
	batch, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("cannot prepare: %w", err)
	}
	for i, col := range columns {
		if err := batch.Column(i).Append(col); err != nil {
			batch.Abort()
			return fmt.Errorf("cannot append column %d: %w", i, err)
		}
	}
	return s.sendError(batch.Send())
}

// webCounts is the number of counter columns of web_counters, in the order
// of the insert.
const webCounts = 12

// webColumns lays rows out by column; a marker (cluster mode) adds the
// rows that make the block unique (see markerMonths).
func webColumns(rows map[counter.WebKey]counter.WebCounts, marker string) []any {
	n := len(rows) + 1
	site, dim, value := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	hour := make([]time.Time, 0, n)
	// One backing array for the counter columns.
	all := make([]int64, webCounts*n)
	cols := make([][]int64, webCounts)
	for i := range cols {
		cols[i] = all[i*n : i*n : (i+1)*n]
	}
	for k, c := range rows {
		site, hour, dim, value = append(site, k.Site), append(hour, time.Unix(k.Hour, 0).UTC()), append(dim, k.Dimension), append(value, k.Value)
		for i, v := range [webCounts]int64{c.Hits, c.Pageviews, c.Visitors, c.Visits, c.TrackedVisits, c.Bounces,
			c.Exits, c.EngagedMS, c.EngagedViews, c.ScrollSum, c.ScrollViews, c.Revenue} {
			cols[i] = append(cols[i], v)
		}
	}
	for _, m := range markerMonths(marker, hour) {
		site, hour, dim, value = append(site, ""), append(hour, m), append(dim, MarkerDimension), append(value, marker)
		for i := range cols {
			cols[i] = append(cols[i], 0)
		}
	}
	out := []any{site, hour, dim, value}
	for _, c := range cols {
		out = append(out, c)
	}
	return out
}

func emailColumns(rows map[counter.EmailKey]counter.EmailCounts, marker string) []any {
	n := len(rows) + 1
	site, campaign, dim, value := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	hour := make([]time.Time, 0, n)
	var counts [8][]int64
	for i := range counts {
		counts[i] = make([]int64, 0, n)
	}
	for k, c := range rows {
		site, campaign, hour, dim, value = append(site, k.Site), append(campaign, k.Campaign), append(hour, time.Unix(k.Hour, 0).UTC()), append(dim, k.Dimension), append(value, k.Value)
		for i, v := range [8]int64{c.Sent, c.Opens, c.UniqueOpens, c.MachineOpens, c.Clicks, c.UniqueClicks, c.MachineClicks, c.ImpliedOpens} {
			counts[i] = append(counts[i], v)
		}
	}
	for _, m := range markerMonths(marker, hour) {
		site, campaign, hour, dim, value = append(site, ""), append(campaign, ""), append(hour, m), append(dim, MarkerDimension), append(value, marker)
		for i := range counts {
			counts[i] = append(counts[i], 0)
		}
	}
	out := []any{site, campaign, hour, dim, value}
	for _, c := range counts {
		out = append(out, c)
	}
	return out
}

// sendError classifies a failed Send. A server exception is definite: the
// insert was refused and nothing was stored. Anything else (connection
// lost, timeout) may have happened after the server stored the block; with
// deduplication a retry is safe, without it the error is ambiguous.
func (s *Sink) sendError(err error) error {
	var exc *ch.Exception
	if err == nil || errors.As(err, &exc) || s.Dedup() {
		return err
	}
	return fmt.Errorf("%w (%w)", aggregator.ErrAmbiguous, err)
}
