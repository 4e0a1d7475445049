package goals

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"tally/internal/chmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store keeps the goals added from the dashboard in ClickHouse (table
// goals, created by its own migrations, recorded in goals_migrations).
type Store struct {
	conn   driver.Conn
	schema *chmigrate.Lazy
	now    func() time.Time
}

// NewStore makes a Store on a connection to the collector's database (on
// a cluster, the table is kept whole on every host); now may be nil. The
// table is created on first use: the collector starts while ClickHouse is
// down.
func NewStore(conn driver.Conn, c chmigrate.Cluster, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{conn: conn, now: now,
		schema: &chmigrate.Lazy{Files: migrationFiles, Dir: "migrations", Table: "goals_migrations", Cluster: c}}
}

func (s *Store) migrate(ctx context.Context) error {
	if err := s.schema.Ensure(ctx, s.conn); err != nil {
		return fmt.Errorf("cannot migrate goals: %w", err)
	}
	return nil
}

// StoredGoal is a goal of the store with its site.
type StoredGoal struct {
	Site string
	Goal
	CreatedAt time.Time
}

// All returns every live stored goal, by site and name. Rows that no
// longer compile (a rule tightened since) are skipped.
func (s *Store) All(ctx context.Context) ([]StoredGoal, error) {
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, `SELECT site, name, argMax(event, version), argMax(path, version), min(created_at), argMax(deleted, version)
FROM goals GROUP BY site, name ORDER BY site, min(created_at), name`)
	if err != nil {
		return nil, fmt.Errorf("cannot query goals: %w", err)
	}
	defer rows.Close()
	var out []StoredGoal
	for rows.Next() {
		var site, name, event, path string
		var created time.Time
		var deleted uint8
		if err := rows.Scan(&site, &name, &event, &path, &created, &deleted); err != nil {
			return nil, fmt.Errorf("cannot read goals: %w", err)
		}
		if deleted != 0 {
			continue
		}
		g, err := NewGoal(name, event, path)
		if err != nil {
			continue
		}
		out = append(out, StoredGoal{Site: site, Goal: g, CreatedAt: created.UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read goals: %w", err)
	}
	return out, nil
}

// put writes a goal's state.
func (s *Store) put(ctx context.Context, site string, g Goal, deleted bool) error {
	if err := s.migrate(ctx); err != nil {
		return err
	}
	// A batch with its column list: 18.16 hangs on Exec with bound
	// arguments.
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO goals (site, name, event, path, created_at, deleted, version)")
	if err != nil {
		return fmt.Errorf("cannot prepare goal insert: %w", err)
	}
	var del uint8
	if deleted {
		del = 1
	}
	// The real clock orders a goal's rows even when tests fix s.now: a
	// deletion must win over the creation.
	version := uint64(time.Now().UnixNano())
	if err := batch.Append(site, g.Name, g.Event, g.Path, s.now().UTC().Truncate(time.Second), del, version); err != nil {
		batch.Abort()
		return fmt.Errorf("cannot append goal: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot store goal %q: %w", g.Name, err)
	}
	return nil
}
