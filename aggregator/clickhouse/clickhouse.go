// Package clickhouse is the aggregator's ClickHouse sink: it creates the
// database and tables (embedded, versioned migrations) and writes counter
// batches with explicit column lists, in SQL that runs both on current
// ClickHouse and on the 18.16 server Debian ships.
package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/aggregator"
)

// Options configure the sink.
type Options struct {
	// URL is a clickhouse:// DSN whose path names the database, e.g.
	// clickhouse://127.0.0.1:9000/analytics.
	URL string
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration
}

// Sink writes aggregator batches to ClickHouse and serves queries.
type Sink struct {
	conn     driver.Conn
	database string
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Open connects, creates the database if needed, and applies migrations.
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
	database := chOpts.Auth.Database

	// The database may not exist yet, and a connection naming it would be
	// refused: create it through the default database first.
	admin := *chOpts
	admin.Auth.Database = "default"
	if err := createDatabase(ctx, &admin, database); err != nil {
		return nil, err
	}

	conn, err := ch.Open(chOpts)
	if err != nil {
		return nil, fmt.Errorf("cannot open ClickHouse connection: %w", err)
	}
	s := &Sink{conn: conn, database: database}
	if err := s.migrate(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func createDatabase(ctx context.Context, opts *ch.Options, name string) error {
	conn, err := ch.Open(opts)
	if err != nil {
		return fmt.Errorf("cannot open ClickHouse connection: %w", err)
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("cannot reach ClickHouse: %w", err)
	}
	// name is a checked identifier; Exec with bound arguments hangs on 18.16.
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+name); err != nil {
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

// Close closes the connection.
func (s *Sink) Close() error { return s.conn.Close() }

// Write stores a batch: all web rows in one insert, all email rows in
// another. A failure returns an error and the aggregator retries the batch.
func (s *Sink) Write(ctx context.Context, b *aggregator.Batch) error {
	if len(b.Web) > 0 {
		batch, err := s.conn.PrepareBatch(ctx,
			"INSERT INTO web_counters (site, hour, dimension, value, hits, pageviews, visitors)")
		if err != nil {
			return fmt.Errorf("cannot prepare web counters insert: %w", err)
		}
		for k, c := range b.Web {
			if err := batch.Append(k.Site, time.Unix(k.Hour, 0).UTC(), k.Dimension, k.Value,
				c.Hits, c.Pageviews, c.Visitors); err != nil {
				batch.Abort()
				return fmt.Errorf("cannot append web counter: %w", err)
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("cannot insert %d web counters: %w", len(b.Web), err)
		}
	}
	if len(b.Email) > 0 {
		batch, err := s.conn.PrepareBatch(ctx,
			"INSERT INTO email_counters (site, campaign, hour, dimension, value, sent, opens, unique_opens, machine_opens)")
		if err != nil {
			return fmt.Errorf("cannot prepare email counters insert: %w", err)
		}
		for k, c := range b.Email {
			if err := batch.Append(k.Site, k.Campaign, time.Unix(k.Hour, 0).UTC(), k.Dimension, k.Value,
				c.Sent, c.Opens, c.UniqueOpens, c.MachineOpens); err != nil {
				batch.Abort()
				return fmt.Errorf("cannot append email counter: %w", err)
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("cannot insert %d email counters: %w", len(b.Email), err)
		}
	}
	return nil
}
