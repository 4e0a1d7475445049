package clickhouse_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tally/aggregator"
	"tally/aggregator/clickhouse"
	"tally/counter"
	"tally/internal/chtest"
)

func TestOpenMigratesIdempotently(t *testing.T) {
	url, conn := chtest.Database(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ { // a second start must find everything in place
		s, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		if err := s.Ready(ctx); err != nil {
			t.Fatalf("ready #%d: %v", i+1, err)
		}
		s.Close()
	}
	var n uint64
	row := conn.QueryRow(ctx, "SELECT count() FROM "+chtest.DB(conn)+".schema_migrations")
	if err := row.Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if n != uint64(len(files)) {
		t.Fatalf("schema_migrations has %d rows, want %d (each migration recorded once)", n, len(files))
	}
}

func TestWriteSumsCounters(t *testing.T) {
	url, conn := chtest.Database(t)
	ctx := context.Background()
	s, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	hour := counter.HourOf(time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC))
	write := func(pv, vis int64) {
		b := aggregator.NewBatch()
		b.Web[counter.WebKey{Site: "example.com", Hour: hour, Dimension: counter.DimPath, Value: "/pricing"}] =
			counter.WebCounts{Hits: pv, Pageviews: pv, Visitors: vis}
		b.Email[counter.EmailKey{Site: "example.com", Campaign: "spring", Hour: hour, Dimension: counter.DimTotal}] =
			counter.EmailCounts{Sent: 100, Opens: pv, UniqueOpens: vis}
		if err := s.Write(ctx, b, ""); err != nil {
			t.Fatal(err)
		}
	}
	write(3, 2)
	write(2, -1) // signed deltas correct earlier counters

	db := chtest.DB(conn)
	var pv, vis int64
	var h time.Time
	if err := conn.QueryRow(ctx, "SELECT sum(pageviews), sum(visitors), min(hour) FROM "+db+
		".web_counters WHERE site = 'example.com' AND dimension = 'path' AND value = '/pricing'").Scan(&pv, &vis, &h); err != nil {
		t.Fatal(err)
	}
	if pv != 5 || vis != 1 || h.Unix() != hour {
		t.Fatalf("got pageviews=%d visitors=%d hour=%v, want 5, 1, %v", pv, vis, h.UTC(), time.Unix(hour, 0).UTC())
	}
	var sent, opens, uniq int64
	if err := conn.QueryRow(ctx, "SELECT sum(sent), sum(opens), sum(unique_opens) FROM "+db+
		".email_counters WHERE campaign = 'spring'").Scan(&sent, &opens, &uniq); err != nil {
		t.Fatal(err)
	}
	if sent != 200 || opens != 5 || uniq != 1 {
		t.Fatalf("got sent=%d opens=%d unique=%d, want 200, 5, 1", sent, opens, uniq)
	}
}

// TestStartsWithoutServer: the collector must start, and spool, while
// ClickHouse is down; writes fail definitely (nothing was sent) until it is
// up.
func TestStartsWithoutServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := clickhouse.Open(ctx, clickhouse.Options{URL: "clickhouse://127.0.0.1:1/analytics", DialTimeout: time.Second})
	if err != nil {
		t.Fatalf("Open needs no server, got %v", err)
	}
	defer s.Close()
	b := aggregator.NewBatch()
	b.Web[counter.WebKey{Site: "example.com", Dimension: counter.DimTotal}] = counter.WebCounts{Pageviews: 1}
	err = s.Write(ctx, b, "t")
	if err == nil {
		t.Fatal("a write without a server succeeded")
	}
	if errors.Is(err, aggregator.ErrAmbiguous) {
		t.Fatalf("a write that never connected is definite, got %v", err)
	}
}

func TestRejectsBadURL(t *testing.T) {
	for _, u := range []string{"://", "clickhouse://127.0.0.1:9000/bad-name;drop"} {
		if _, err := clickhouse.Open(context.Background(), clickhouse.Options{URL: u}); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

// A database whose tables have another layout is refused at start with
// every difference named, not accepted to fail at every flush.
func TestReadyRefusesAnotherSchema(t *testing.T) {
	url, conn := chtest.Database(t)
	ctx := context.Background()
	db := chtest.DB(conn)
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	// An older layout: visitors missing, hits narrower.
	if err := conn.Exec(ctx, "CREATE TABLE "+db+".web_counters (site String, hour DateTime('UTC'), dimension String, value String, hits Int32, pageviews Int64) ENGINE = SummingMergeTree ORDER BY (site, dimension, hour, value)"); err != nil {
		t.Fatal(err)
	}
	s, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Ready(ctx)
	if !errors.Is(err, clickhouse.ErrSchema) {
		t.Fatalf("Ready on another layout: %v, want ErrSchema", err)
	}
	for _, want := range []string{"web_counters.visitors is missing", "web_counters.hits is Int32, want Int64"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	b := aggregator.NewBatch()
	b.Web[counter.WebKey{Site: "example.com", Dimension: counter.DimTotal}] = counter.WebCounts{Pageviews: 1}
	if err := s.Write(ctx, b, "t"); !errors.Is(err, clickhouse.ErrSchema) {
		t.Fatalf("a write on another layout: %v, want ErrSchema", err)
	}
}

// Several collectors starting at once on an empty database all start,
// and the result is one schema with each migration recorded once.
func TestConcurrentStartsMigrateSafely(t *testing.T) {
	url, conn := chtest.Database(t)
	ctx := context.Background()
	const n = 4
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			s, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
			if err == nil {
				err = s.Ready(ctx)
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("start %d: %v", i, err)
		}
	}
	var versions uint64
	if err := conn.QueryRow(ctx, "SELECT count(DISTINCT version) FROM "+chtest.DB(conn)+".schema_migrations").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if versions != uint64(len(files)) {
		t.Fatalf("%d versions recorded, want %d", versions, len(files))
	}
	// And the next start reads them as applied.
	s, _ := clickhouse.Open(ctx, clickhouse.Options{URL: url})
	defer s.Close()
	if err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeAddsVisitColumns starts on a database made by the version
// before the visit counters (migration 1 applied, a row written): the next
// start adds the columns, the old row reads 0 in them, and new deltas sum.
func TestUpgradeAddsVisitColumns(t *testing.T) {
	url, conn := chtest.Database(t)
	ctx := context.Background()
	db := chtest.DB(conn)
	sql, err := os.ReadFile("migrations/0001_counters.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{"CREATE DATABASE " + db,
		"CREATE TABLE " + db + ".schema_migrations (version UInt32, name String, applied_at DateTime('UTC')) ENGINE = ReplacingMergeTree ORDER BY version"}
	for _, s := range strings.Split(string(sql), ";") {
		if i := strings.Index(s, "CREATE TABLE"); i >= 0 {
			stmts = append(stmts, strings.Replace(s[i:], "IF NOT EXISTS ", "IF NOT EXISTS "+db+".", 1))
		}
	}
	for _, s := range stmts {
		if err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	// Inserts go as blocks: an INSERT … VALUES through Exec hangs on 18.16.
	insert := func(query string, row ...any) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, query)
		if err == nil {
			err = b.Append(row...)
		}
		if err == nil {
			err = b.Send()
		}
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	insert("INSERT INTO "+db+".schema_migrations (version, name, applied_at)", uint32(1), "0001_counters.sql", hour)
	insert("INSERT INTO "+db+".web_counters (site, hour, dimension, value, hits, pageviews, visitors)",
		"example.com", hour, "path", "/a", int64(3), int64(3), int64(1))
	s, err := clickhouse.Open(ctx, clickhouse.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := aggregator.NewBatch()
	b.Web[counter.WebKey{Site: "example.com", Hour: hour.Unix(), Dimension: counter.DimPath, Value: "/a"}] = counter.WebCounts{
		Hits: 1, Pageviews: 1, Visits: 1, TrackedVisits: 1, Bounces: 1, Exits: -1, EngagedMS: 4500, EngagedViews: 1, ScrollSum: 70, ScrollViews: 1}
	b.Web[counter.WebKey{Site: "example.com", Hour: hour.Unix(), Dimension: counter.DimRevenue, Value: "Purchase\tEUR"}] = counter.WebCounts{
		Hits: 1, Revenue: 12_500_000}
	if err := s.Write(ctx, b, "upgrade"); err != nil {
		t.Fatalf("write after the upgrade: %v", err)
	}
	var got [12]int64
	if err := conn.QueryRow(ctx, `SELECT sum(hits), sum(pageviews), sum(visitors), sum(visits), sum(tracked_visits), sum(bounces),
    sum(exits), sum(engaged_ms), sum(engaged_views), sum(scroll_sum), sum(scroll_views), sum(revenue)
FROM `+db+".web_counters WHERE site = 'example.com'").Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5], &got[6], &got[7], &got[8], &got[9], &got[10], &got[11]); err != nil {
		t.Fatal(err)
	}
	if want := [12]int64{5, 4, 1, 1, 1, 1, -1, 4500, 1, 70, 1, 12_500_000}; got != want {
		t.Fatalf("after the upgrade: %v, want %v", got, want)
	}
}
