// Package chmigrate applies versioned SQL migrations to a ClickHouse
// database. Each owner of tables (the counter sink, the dashboards' share
// links) embeds its own files and records them in its own table, so no
// package carries another's schema.
package chmigrate

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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
// missing). Statements are written to be idempotent (IF NOT EXISTS), so a
// migration interrupted half way is safe to run again.
func Apply(ctx context.Context, conn driver.Conn, table string, all []Migration) error {
	if !tableRe.MatchString(table) {
		return fmt.Errorf("migrations table %q is not a plain identifier", table)
	}
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
    version    UInt32,
    name       String,
    applied_at DateTime('UTC')
) ENGINE = MergeTree ORDER BY version`); err != nil {
		return fmt.Errorf("cannot create %s: %w", table, err)
	}
	applied := map[uint32]bool{}
	rows, err := conn.Query(ctx, "SELECT version FROM "+table)
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
			if err := conn.Exec(ctx, stmt); err != nil {
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
