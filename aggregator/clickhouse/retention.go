package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// partitionedTables are the tables partitioned by toYYYYMM(hour), whose
// months DropBefore drops.
var partitionedTables = []string{"web_counters", "email_counters"}

// Partition is one month of one counter table.
type Partition struct {
	Table string
	Month int // YYYYMM, as toYYYYMM gives it
}

func (p Partition) String() string { return fmt.Sprintf("%s/%06d", p.Table, p.Month) }

// DropBefore drops every monthly partition of the counter tables whose
// whole month ended at or before cutoff, and returns what it dropped.
// Rows of the month cutoff falls in are kept until that month has passed
// too: data is kept at least until cutoff and at most a month longer.
//
// The SQL runs on ClickHouse 18.16 as on current servers: no bound
// arguments (Exec with them hangs on 18.16); the database is a checked
// identifier, the tables are constants and the partition literal is
// printed from an integer that was parsed and range-checked. A partition
// larger than the server's max_partition_size_to_drop (50 GB by default)
// is refused by the server, and the error says so.
func (s *Sink) DropBefore(ctx context.Context, cutoff time.Time) ([]Partition, error) {
	if err := s.Ready(ctx); err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, partitionsQuery(s.database))
	if err != nil {
		return nil, fmt.Errorf("cannot list partitions: %w", err)
	}
	var parts [][2]string
	for rows.Next() {
		var table, partition string
		if err := rows.Scan(&table, &partition); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cannot read partitions: %w", err)
		}
		parts = append(parts, [2]string{table, partition})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read partitions: %w", err)
	}
	old, err := expired(parts, cutoff)
	if err != nil {
		return nil, err
	}
	var dropped []Partition
	for _, p := range old {
		if err := s.conn.Exec(ctx, p.dropStatement(s.database)); err != nil {
			return dropped, fmt.Errorf("cannot drop partition %s: %w", p, err)
		}
		dropped = append(dropped, p)
	}
	return dropped, nil
}

// partitionsQuery lists the (table, partition) of the counter tables'
// active parts; database is a checked identifier.
func partitionsQuery(database string) string {
	return "SELECT DISTINCT table, partition FROM system.parts WHERE database = '" + database +
		"' AND active AND table IN ('" + strings.Join(partitionedTables, "', '") + "')"
}

// expired picks, from (table, partition) pairs, the months that ended at
// or before cutoff, oldest first.
func expired(parts [][2]string, cutoff time.Time) ([]Partition, error) {
	var old []Partition
	for _, tp := range parts {
		month, ok := parseMonth(tp[1])
		if !ok || !slices.Contains(partitionedTables, tp[0]) {
			return nil, fmt.Errorf("table %s has partition %q, not a month: the tables are not partitioned by toYYYYMM(hour)", tp[0], tp[1])
		}
		if !monthEnd(month).After(cutoff) {
			old = append(old, Partition{Table: tp[0], Month: month})
		}
	}
	slices.SortFunc(old, func(a, b Partition) int {
		return cmp.Or(cmp.Compare(a.Month, b.Month), strings.Compare(a.Table, b.Table))
	})
	return old, nil
}

// dropStatement drops p; the literal is printed from the checked integer.
func (p Partition) dropStatement(database string) string {
	return fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %d", database, p.Table, p.Month)
}

// parseMonth reads a YYYYMM partition value.
func parseMonth(s string) (int, bool) {
	if len(s) != 6 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	if m := n % 100; m < 1 || m > 12 || n/100 < 1970 {
		return 0, false
	}
	return n, true
}

// monthEnd is the first instant after the month, in UTC (hours are UTC).
func monthEnd(yyyymm int) time.Time {
	return time.Date(yyyymm/100, time.Month(yyyymm%100)+1, 1, 0, 0, 0, 0, time.UTC)
}
