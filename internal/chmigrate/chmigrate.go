// Package chmigrate applies versioned SQL migrations to a ClickHouse
// database, on one server or on every host of a cluster (cluster.go). Each
// owner of tables (the counter sink, the dashboards' share links) embeds
// its own files and records them in its own table, so no package carries
// another's schema.
package chmigrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migration is one versioned file of statements.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// Load lists the migrations in dir of files in version order. File names are
// NNNN_name.sql; statements are separated by a ';' at the end of a line.
func Load(files fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a version number", e.Name())
		}
		body, err := fs.ReadFile(files, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("cannot read migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: uint32(v), Name: e.Name(), Statements: splitStatements(string(body))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func splitStatements(sql string) []string {
	var stmts []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "--") || t == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			stmts = append(stmts, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		stmts = append(stmts, s)
	}
	return stmts
}

var tableRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

// Apply applies every migration not yet recorded in table (created if
// missing) on one server. Statements are written to be idempotent (IF NOT
// EXISTS), so a migration interrupted half way is safe to run again, and
// so is one that several collectors starting at once apply together: a
// statement that loses that race ("already exists") counts as done, and a
// version recorded twice is read as one (the table is a
// ReplacingMergeTree, which also folds the duplicates away in time).
func Apply(ctx context.Context, conn driver.Conn, table string, all []Migration) error {
	return Cluster{}.Apply(ctx, conn, table, all)
}

// Apply is the package's Apply on c: on a cluster, every statement (the
// migrations table's too) is rewritten by Rewrite and runs on every host;
// the record of what was applied is a replicated table that every host
// holds whole.
func (c Cluster) Apply(ctx context.Context, conn driver.Conn, table string, all []Migration) error {
	if !tableRe.MatchString(table) {
		return fmt.Errorf("migrations table %q is not a plain identifier", table)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if err := c.run(ctx, conn, `CREATE TABLE IF NOT EXISTS `+table+` (
    version    UInt32,
    name       String,
    applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree ORDER BY version`); err != nil {
		return fmt.Errorf("cannot create %s: %w", table, err)
	}
	if c.On() {
		// What another host recorded may not have reached this one yet:
		// without the wait, a migration would be run twice, and an ALTER
		// that adds a column fails the second time.
		if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+c.Database+"."+table); err != nil {
			return fmt.Errorf("cannot sync %s: %w", table, err)
		}
	}
	applied := map[uint32]bool{}
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+table)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", table, err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read %s: %w", table, err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read %s: %w", table, err)
	}

	for _, m := range all {
		if applied[m.Version] {
			continue
		}
		for _, stmt := range m.Statements {
			if err := c.run(ctx, conn, stmt); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (version, name, applied_at)")
		if err != nil {
			return fmt.Errorf("migration %s: cannot record it: %w", m.Name, err)
		}
		if err := batch.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
			return fmt.Errorf("migration %s: cannot record it: %w", m.Name, err)
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("migration %s: cannot record it: %w", m.Name, err)
		}
	}
	return nil
}

// run rewrites stmt for c and runs what it becomes, in order.
func (c Cluster) run(ctx context.Context, conn driver.Conn, stmt string) error {
	stmts, err := c.Rewrite(stmt)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if err := Exec(ctx, conn, s); err != nil {
			return err
		}
	}
	return nil
}

// ClickHouse error codes of a CREATE that lost a race with another, and
// of an ADD COLUMN whose column is there already (44 on 18.16, 15 on
// later servers).
const (
	codeTableExists     = 57
	codeDatabaseExists  = 82
	codeColumnExists    = 44
	codeDuplicateColumn = 15
)

// Exec runs one DDL statement, taking "already exists" for success: two
// processes running the same CREATE … IF NOT EXISTS at once can both pass
// the check, and then one of them gets that error. The same holds for an
// ALTER … ADD COLUMN, which 18.16 cannot write with IF NOT EXISTS: one
// that finds its column there (applied by another process, or by a start
// that stopped before recording the migration) is done. CheckColumns
// then checks the column's type.
func Exec(ctx context.Context, conn driver.Conn, stmt string) error {
	err := conn.Exec(ctx, stmt)
	var exc *ch.Exception
	if errors.As(err, &exc) && (exc.Code == codeTableExists || exc.Code == codeDatabaseExists) {
		return nil
	}
	if errors.As(err, &exc) && (exc.Code == codeColumnExists || exc.Code == codeDuplicateColumn) && addsColumns(stmt) &&
		strings.Contains(exc.Message, "already exists") {
		return nil
	}
	return err
}

// addsColumns reports whether stmt is an ALTER TABLE that only adds columns.
func addsColumns(stmt string) bool {
	s := strings.ToUpper(strings.Join(strings.Fields(stmt), " "))
	if !strings.HasPrefix(s, "ALTER TABLE ") {
		return false
	}
	_, rest, _ := strings.Cut(s[len("ALTER TABLE "):], " ")
	if r, ok := strings.CutPrefix(rest, "ON CLUSTER "); ok { // as Cluster.Rewrite writes it
		_, rest, _ = strings.Cut(r, " ")
	}
	for _, part := range strings.Split(rest, ",") {
		if !strings.HasPrefix(strings.TrimSpace(part), "ADD COLUMN ") {
			return false
		}
	}
	return true
}

// Column is one column a table must have.
type Column struct{ Name, Type string }

// ErrSchema is wrapped by CheckColumns when a table is not what the code
// writes.
var ErrSchema = errors.New("the ClickHouse schema does not match what the collector writes")

// CheckColumns compares the columns of each table in want with the
// database's, and names every difference: a missing table or column, or a
// column of another type. A column the code does not know is allowed (an
// insert leaves it at its default).
func CheckColumns(ctx context.Context, conn driver.Conn, database string, want map[string][]Column) error {
	if !identRe.MatchString(database) {
		return fmt.Errorf("database name %q is not a plain identifier", database)
	}
	// database is a checked identifier; bound arguments hang on 18.16.
	rows, err := conn.Query(ctx, "SELECT table, name, type FROM system.columns WHERE database = '"+database+"'")
	if err != nil {
		return fmt.Errorf("cannot read the columns of %s: %w", database, err)
	}
	have := map[string]map[string]string{}
	for rows.Next() {
		var table, name, typ string
		if err := rows.Scan(&table, &name, &typ); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read the columns of %s: %w", database, err)
		}
		if have[table] == nil {
			have[table] = map[string]string{}
		}
		have[table][name] = typ
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read the columns of %s: %w", database, err)
	}
	var diffs []string
	tables := make([]string, 0, len(want))
	for t := range want {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		cols, ok := have[t]
		if !ok {
			diffs = append(diffs, "table "+t+" is missing")
			continue
		}
		for _, c := range want[t] {
			switch got, ok := cols[c.Name]; {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("%s.%s is missing (want %s)", t, c.Name, c.Type))
			case got != c.Type:
				diffs = append(diffs, fmt.Sprintf("%s.%s is %s, want %s", t, c.Name, got, c.Type))
			}
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w in database %s: %s", ErrSchema, database, strings.Join(diffs, "; "))
	}
	return nil
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Lazy applies one owner's migrations on first use, so that the owner can
// be made while ClickHouse is down; an attempt that fails is made again
// at the next use. Safe for concurrent use.
type Lazy struct {
	Files   fs.FS
	Dir     string  // the migrations' directory in Files
	Table   string  // the owner's migrations table
	Cluster Cluster // where they run (the zero Cluster: one server)

	mu   sync.Mutex
	done bool
}

// Ensure applies the migrations unless an earlier call did.
func (l *Lazy) Ensure(ctx context.Context, conn driver.Conn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	all, err := Load(l.Files, l.Dir)
	if err != nil {
		return err
	}
	if err := l.Cluster.Apply(ctx, conn, l.Table, all); err != nil {
		return err
	}
	l.done = true
	return nil
}
